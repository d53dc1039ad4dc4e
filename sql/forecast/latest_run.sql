-- latest_run: the newest stored base forecast run (not a what-if scenario's) that has bookings,
-- and the components it stored.
-- Grain: one row (none before the first forecast).
select
    r.run_id,
    r.as_of,
    r.created_at,
    r.method,
    r.simulations,
    r.config,
    list(distinct b.component) as components
from forecast_runs as r
inner join forecast_bookings as b on r.run_id = b.run_id
where r.scenario is null
group by all
order by r.created_at desc nulls last, r.run_id desc
limit 1
