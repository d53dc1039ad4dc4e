-- forecast_cashflow: bookings turned into billings, collections and recognised revenue.
-- Grain: one row per run_id and month. Columns: docs/metrics.md.
create table if not exists forecast_cashflow (
    run_id integer,
    month date,
    billings_mean double,
    billings_p10 double,
    billings_p50 double,
    billings_p90 double,
    collections_mean double,
    collections_p10 double,
    collections_p50 double,
    collections_p90 double,
    recognized_revenue double,
    recognized_revenue_p10 double,
    recognized_revenue_p50 double,
    recognized_revenue_p90 double
);
