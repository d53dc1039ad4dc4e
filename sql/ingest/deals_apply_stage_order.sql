-- Reordered deals (temp table reordered_deals) take the stages table's order.
-- Grain: updates deals, one row per (source, deal_id).
update deals
set stage_order = r.stage_order
from reordered_deals as r
where deals.source = r.source and deals.deal_id = r.deal_id
