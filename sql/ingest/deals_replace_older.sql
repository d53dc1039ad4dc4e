-- The newest export of a deal is its current state: stored deals that an incoming row (temp table
-- incoming_deals) is at least as new as leave, and deals_insert writes the incoming rows.
-- Grain: deletes from deals, one row per (source, deal_id).
delete from deals as d
using incoming_deals as i
where
    d.source = i.source
    and d.deal_id = i.deal_id
    and d.snapshot_at <= i.snapshot_at
