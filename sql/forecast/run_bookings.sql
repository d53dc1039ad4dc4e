-- run_bookings: the monthly bookings of run $run's component $component.
-- Grain: month.
select
    month,
    mean,
    p10,
    p50,
    p90
from forecast_bookings
where run_id = $run and component = $component
order by month
