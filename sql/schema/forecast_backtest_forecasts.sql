-- forecast_backtest_forecasts: what each method forecast at a stored backtest origin, for every
-- horizon, whether or not its months have ended yet (forecast_backtest scores those that have).
-- Grain: one row per origin, method and horizon_months. Columns: docs/metrics.md.
create table if not exists forecast_backtest_forecasts (
    origin timestamp,
    method varchar,
    horizon_months integer,
    forecast_mean double,
    p10 double,
    p50 double,
    p90 double
);
