-- accuracy_scores: the backtest's scores per method and horizon as the report shows them, the
-- engine first at each horizon; pinball_loss is the mean of the P10, P50 and P90 pinball losses.
-- Grain: horizon_months x method.
select
    method,
    horizon_months,
    origins,
    wape,
    bias,
    coverage_p10_p90 as coverage,
    (pinball_p10 + pinball_p50 + pinball_p90) / 3 as pinball_loss
from forecast_accuracy
order by horizon_months asc, method = 'engine' desc, wape asc nulls last, method asc
