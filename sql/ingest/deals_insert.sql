-- Incoming deals (temp table incoming_deals) that no newer export already stored become the
-- deals' current state. Grain: inserts into deals, one row per (source, deal_id).
insert into deals by name
select i.*  -- noqa: AM04
from incoming_deals as i
anti join deals as d on i.source = d.source and i.deal_id = d.deal_id
