-- backtest_rows: the stored backtest rows with an actual, except those of method $combination
-- (recomputed from the others).
-- Grain: origin x horizon_months x method.
select
    origin,
    horizon_months,
    method,
    actual,
    forecast_mean,
    p10,
    p50,
    p90
from forecast_backtest
where actual is not null and method != $combination
order by origin, horizon_months, method
