-- A deal deleted in the CRM since its last export (a staged row marked deleted, in a file of
-- snapshot $snapshot_at) leaves the warehouse; its snapshots stay.
-- Grain: deletes from deals, one row per (source, deal_id).
delete from deals as d
using staged_deals as s
where
    d.source = $source
    and d.deal_id = s.deal_id
    and s.deleted
    and s.exclude_reason is not null
    and d.snapshot_at <= $snapshot_at
