-- forecast_targets: each configured bookings target against one forecast run.
-- Grain: one row per run_id and target (period, owner, pipeline). Columns: docs/metrics.md.
create table if not exists forecast_targets (
    run_id integer,
    period varchar,
    period_kind varchar,
    period_start date,
    period_end date,
    owner varchar,
    pipeline varchar,
    target double,
    closed_to_date double,
    remaining double,
    open_pipeline double,
    p50 double,
    p_hit double,
    p50_gap double,
    coverage double,
    required_win_rate double
);
