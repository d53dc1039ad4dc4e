-- forecast_crosschecks: the naive forecasts shown beside the engine.
-- Grain: one row per run_id, month and method. Columns: docs/metrics.md.
create table if not exists forecast_crosschecks (
    run_id integer,
    month date,
    method varchar,
    mean double,
    p10 double,
    p50 double,
    p90 double
);
