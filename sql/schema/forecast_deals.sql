-- forecast_deals: each open deal's part in a forecast.
-- Grain: one row per run_id and open deal. Columns: docs/metrics.md.
create table if not exists forecast_deals (
    run_id integer,
    source varchar,
    deal_id varchar,
    win_probability double,
    expected_close_month date,
    expected_value_base double,
    stage varchar,
    stage_age_days double,
    amount_base double,
    deal_type varchar,
    basis varchar,
    amount_imputed boolean
);
