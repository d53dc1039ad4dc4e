-- deal_snapshots: a deal as one export showed it; a newer export appends.
-- Grain: one row per snapshot_at, source and deal_id. Columns: docs/metrics.md.
create table if not exists deal_snapshots (
    snapshot_at timestamp,
    source varchar,
    deal_id varchar,
    stage varchar,
    status varchar,
    amount_base double,
    expected_close_date date,
    owner varchar,
    batch_id integer,
    closed_at timestamp,
    stage_changed_at timestamp,
    forecast_category varchar
);
