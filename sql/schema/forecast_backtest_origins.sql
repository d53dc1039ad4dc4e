-- forecast_backtest_origins: each backtest origin forecast so far, and what it was made with.
-- Grain: one row per origin. A later backtest reuses the origin's forecasts while made_with and
-- data_known still match (docs/forecasting.md, "Incremental backtest"). Columns: docs/metrics.md.
create table if not exists forecast_backtest_origins (
    origin timestamp,
    made_with varchar,
    data_known varchar,
    scored boolean,
    note varchar,
    simulations integer,
    seed bigint,
    created_at timestamp
);
