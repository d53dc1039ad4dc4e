-- Every incoming deal row (temp table incoming_deals) is kept as a snapshot, older files too.
-- Grain: inserts into deal_snapshots, one row per (snapshot_at, source, deal_id).
insert into deal_snapshots by name
select
    snapshot_at,
    source,
    deal_id,
    stage,
    status,
    amount_base,
    expected_close_date,
    owner,
    batch_id,
    closed_at,
    stage_changed_at,
    forecast_category
from incoming_deals
