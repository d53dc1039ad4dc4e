-- quarter_total: run $run's simulated total of the quarter starting at $quarter_start, for its
-- component $component.
-- Grain: one row (none when the run did not store it).
select
    complete,
    mean,
    p10,
    p50,
    p90
from forecast_periods
where
    run_id = $run
    and period = 'quarter'
    and period_start = $quarter_start
    and component = $component
