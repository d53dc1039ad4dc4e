-- change_runs: the stored base forecast runs (scenario runs left out), newest first as the report
-- orders them, and whether each stored forecast_deal_periods (runs made before it did not).
-- Grain: base forecast run.
with runs_with_deal_periods as (
    select distinct run_id
    from forecast_deal_periods
)

select
    r.run_id,
    r.as_of,
    r.created_at,
    r.method,
    d.run_id is not null as has_deal_periods
from forecast_runs as r
left join runs_with_deal_periods as d on r.run_id = d.run_id
where r.scenario is null
order by r.created_at desc nulls last, r.run_id desc
