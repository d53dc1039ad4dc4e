-- alert_low_coverage: the targets of base forecast run $run whose period has not ended by the
-- run's as_of and whose open pipeline covers less than $min_coverage times the remaining target
-- (a target already met has no coverage, NULL, and never fires).
-- Grain: one row per target, lowest coverage first.
select
    t.period,
    t.owner,
    t.pipeline,
    t.coverage,
    t.open_pipeline,
    t.remaining
from forecast_targets as t
inner join forecast_runs as r on t.run_id = r.run_id
where
    t.run_id = $run  -- noqa: RF02
    and t.period_end > r.as_of
    and t.coverage < $min_coverage  -- noqa: RF02
order by t.coverage asc, t.period_start asc, t.owner asc, t.pipeline asc
