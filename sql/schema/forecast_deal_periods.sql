-- forecast_deal_periods: each deal's part in each fiscal quarter and year of a forecast run.
-- Grain: one row per run_id, period (period_kind, period_start) and deal: every deal open at the
-- run's as_of in every period of the run, and every deal closed (won or lost) from the first
-- period's start to as_of in the periods its close falls in. Columns: docs/metrics.md.
create table if not exists forecast_deal_periods (
    run_id integer,
    period_kind varchar,
    period_start date,
    source varchar,
    deal_id varchar,
    status varchar,
    amount_base double,
    expected_close_date date,
    win_probability double,
    expected_value_base double
);
