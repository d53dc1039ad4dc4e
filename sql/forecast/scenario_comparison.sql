-- scenario_comparison: base run $run beside the newest run of each what-if scenario forecast as
-- of the same moment (forecast_runs.scenario), for the first fiscal quarter and the first fiscal
-- year the base run forecasts: the engine's simulated total (component 'total': what a scenario
-- changes; P10/P50/P90 as simulated), and the company-wide target of that period with its P(hit)
-- from the run's forecast_targets (NULL when no such target is set); config: the run's settings
-- (JSON), whose "scenario" says what the scenario changes.
-- Grain: run x period ('quarter', 'year'); the base first, then the scenarios by name.
with base as (
    select as_of from forecast_runs
    where run_id = $run
),

compared as (
    select
        $run as run_id,  -- noqa: RF02
        null::varchar as scenario
    union all
    select
        max(r.run_id) as run_id,
        r.scenario
    from forecast_runs as r
    inner join base as b on r.as_of = b.as_of
    where r.scenario is not null
    group by r.scenario
),

first_periods as (
    select
        period,
        min(period_start) as period_start
    from forecast_periods
    where run_id = $run and component = 'total' and period in ('quarter', 'year')
    group by period
)

select
    c.run_id,
    c.scenario,
    r.config,
    f.period,
    f.period_start,
    p.complete,
    p.p10,
    p.p50,
    p.p90,
    t.target,
    t.p_hit
from compared as c
inner join forecast_runs as r on c.run_id = r.run_id
cross join first_periods as f
left join forecast_periods as p
    on
        c.run_id = p.run_id
        and f.period = p.period
        and f.period_start = p.period_start
        and p.component = 'total'
left join forecast_targets as t
    on
        c.run_id = t.run_id
        and f.period = t.period_kind
        and f.period_start = t.period_start
        and t.owner is null
        and t.pipeline is null
order by c.scenario nulls first, f.period
