-- accuracy_log: the backtest's scores, as the backtest step logs them.
-- Grain: method x horizon_months, by horizon then WAPE.
select
    method,
    horizon_months,
    wape,
    coverage_p10_p90
from forecast_accuracy
order by horizon_months, wape
