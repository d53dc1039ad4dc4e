-- forecast_changes: what changed for a deal since the previous forecast run.
-- Grain: one row per run_id and deal. Columns: docs/metrics.md.
create table if not exists forecast_changes (
    run_id integer,
    previous_run_id integer,
    source varchar,
    deal_id varchar,
    change varchar,
    stage varchar,
    previous_stage varchar,
    win_probability double,
    previous_win_probability double,
    expected_value_base double,
    previous_expected_value_base double,
    delta_base double
);
