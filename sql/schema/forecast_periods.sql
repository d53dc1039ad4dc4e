-- forecast_periods: the forecast summed over months, quarters and years.
-- Grain: one row per run_id, period and component. Columns: docs/metrics.md.
create table if not exists forecast_periods (
    run_id integer,
    period varchar,
    period_start date,
    months_forecast integer,
    complete boolean,
    component varchar,
    mean double,
    p10 double,
    p50 double,
    p90 double
);
