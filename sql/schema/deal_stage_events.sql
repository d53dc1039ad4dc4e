-- deal_stage_events: one stint of a deal in a stage, from entering it to leaving it.
-- Grain: one row per deal, stage and stint. Columns: docs/metrics.md.
create table if not exists deal_stage_events (
    source varchar,
    deal_id varchar,
    pipeline varchar,
    stage varchar,
    stage_order integer,
    entered_at timestamp,
    exited_at timestamp,
    stint integer,
    origin varchar
);
