-- backtest_path: method $method's backtest forecasts at its shortest horizon, against the actual.
-- Grain: origin.
select
    b.origin,
    b.actual,
    b.p10,
    b.p50,
    b.p90,
    b.forecast_mean
from forecast_backtest as b
where
    b.method = $method  -- noqa: RF02
    and b.horizon_months = (
        select min(s.horizon_months) from forecast_backtest as s
        where s.method = $method  -- noqa: RF02
    )
order by b.origin
