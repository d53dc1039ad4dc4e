-- forecast_accuracy: how close each method's backtest forecasts came to what was then booked.
-- Grain: one row per method and horizon_months, over the backtest origins with an actual.
-- A view, so it always reads the current forecast_backtest; created after the tables.
create or replace view forecast_accuracy as
select
    method,
    horizon_months,
    count(*) as origins,
    sum(abs(actual - p50)) / nullif(sum(actual), 0) as wape,
    sum(p50 - actual) / nullif(sum(actual), 0) as bias,
    avg(greatest(0.1 * (actual - p10), -0.9 * (actual - p10))) as pinball_p10,
    avg(greatest(0.5 * (actual - p50), -0.5 * (actual - p50))) as pinball_p50,
    avg(greatest(0.9 * (actual - p90), -0.1 * (actual - p90))) as pinball_p90,
    avg(case
        when p10 is not null and p90 is not null
            then (actual between p10 and p90)::integer
    end) as coverage_p10_p90
from forecast_backtest
where actual is not null
group by method, horizon_months;
