-- forecast_runs: one forecast run and its parameters.
-- Grain: one row per run_id. Columns: docs/metrics.md.
create table if not exists forecast_runs (
    run_id integer,
    as_of timestamp,
    created_at timestamp,
    horizon_months integer,
    simulations integer,
    seed bigint,
    method varchar,
    config varchar,
    scenario varchar
);
