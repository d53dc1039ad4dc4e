-- digest_targets: the company-wide targets (no owner, no pipeline) of base forecast run $run
-- whose period has not ended by the run's as_of, soonest first.
-- Grain: one row per target.
select
    t.period,
    t.period_kind,
    t.period_start,
    t.target,
    t.closed_to_date,
    t.p50,
    t.p_hit,
    t.coverage
from forecast_targets as t
inner join forecast_runs as r on t.run_id = r.run_id
where
    t.run_id = $run  -- noqa: RF02
    and t.owner is null
    and t.pipeline is null
    and t.period_end > r.as_of
order by t.period_end asc, t.period_start desc
