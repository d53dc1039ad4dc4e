-- forecast_backtest: a forecast made as of a past month end, against what was then booked.
-- Grain: one row per origin, horizon_months and method. Columns: docs/metrics.md.
create table if not exists forecast_backtest (
    origin timestamp,
    horizon_months integer,
    method varchar,
    actual double,
    forecast_mean double,
    p10 double,
    p50 double,
    p90 double,
    simulations integer,
    seed bigint,
    created_at timestamp
);
