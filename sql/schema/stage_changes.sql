-- stage_changes: one recorded stage change as the source wrote it (the raw material of
-- deal_stage_events).
-- Grain: one row per deal and change. Columns: docs/metrics.md.
create table if not exists stage_changes (
    source varchar,
    deal_id varchar,
    stage varchar,
    changed_at timestamp,
    batch_id integer,
    source_row bigint,
    origin varchar
);
