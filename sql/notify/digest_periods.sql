-- digest_periods: the fiscal quarter and fiscal year holding base forecast run $run's as_of (its
-- first quarter and year), with the headline component when the run stored one, else the
-- engine's total: what was booked plus the simulated rest.
-- Grain: one row per period kind ('quarter', then 'year').
select
    period,
    period_start,
    complete,
    component,
    mean,
    p10,
    p50,
    p90
from forecast_periods
where run_id = $run and component in ('headline', 'total')
qualify
    row_number() over (
        partition by period order by period_start asc, (component = 'headline') desc
    ) = 1
order by period asc
