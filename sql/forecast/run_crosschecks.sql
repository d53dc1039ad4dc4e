-- run_crosschecks: the naive methods' monthly bookings stored beside run $run.
-- Grain: method x month.
select
    method,
    month,
    mean,
    p50
from forecast_crosschecks
where run_id = $run
order by method, month
