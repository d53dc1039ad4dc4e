-- capacity: how many reps the next company-wide target needs at today's per-rep pipeline
-- creation and win rate, against run $run's targets (forecast_targets) and the trailing window
-- of mart_rep_performance / mart_kpis_by_dimension.
-- next target: of run $run's targets without owner or pipeline, the one whose period ends first
--   after the run's as_of (then the shortest period).
-- reps: owners (not '(none)') who created pipeline in the window (created_pipeline_base > 0).
-- window_months: (as_of - window_start) in days / (365.25 / 12).
-- per_rep_monthly_created = the reps' created_pipeline_base / reps / window_months.
-- win_rate_amount: the team's won amount / (won + lost amount) in the window.
-- per_rep_monthly_bookings = per_rep_monthly_created x win_rate_amount.
-- period_months: months from period_start to period_end.
-- reps_needed = target / (per_rep_monthly_bookings x period_months): the head count whose
--   creation, converted at today's win rate, books the target each such period (steady state:
--   ramp-up and the lag from creation to close are not in it); rep_gap = reps_needed - reps.
-- Grain: one row; none when run $run has no company-wide target ending after its as_of.
with next_target as (
    select
        t.period,
        t.period_kind,
        t.period_start,
        t.period_end,
        t.target,
        date_diff('month', t.period_start, t.period_end) as period_months
    from forecast_targets as t
    inner join forecast_runs as r on t.run_id = r.run_id
    where
        t.run_id = $run  -- noqa: RF02
        and t.owner is null
        and t.pipeline is null
        and t.period_end > r.as_of
    order by t.period_end asc, t.period_start desc
    limit 1
),

reps as (
    select
        count(*) as reps,
        sum(created_pipeline_base) as created_base,
        any_value(date_diff('second', window_start, as_of) / 86400 / (365.25 / 12)) as window_months
    from mart_rep_performance
    where owner != '(none)' and created_pipeline_base > 0
),

team as (
    select win_rate_amount
    from mart_kpis_by_dimension
    where dimension = 'all'
),

per_rep as (
    select
        r.reps,
        r.window_months,
        tm.win_rate_amount,
        r.created_base / nullif(r.reps, 0) / nullif(r.window_months, 0)
            as per_rep_monthly_created
    from reps as r
    cross join team as tm
)

select
    n.period,
    n.period_kind,
    n.period_start,
    n.period_end,
    n.target,
    n.period_months,
    p.reps,
    p.window_months,
    p.per_rep_monthly_created,
    p.win_rate_amount,
    p.per_rep_monthly_created * p.win_rate_amount as per_rep_monthly_bookings,
    n.target / nullif(
        p.per_rep_monthly_created * p.win_rate_amount * n.period_months, 0
    ) as reps_needed,
    n.target / nullif(
        p.per_rep_monthly_created * p.win_rate_amount * n.period_months, 0
    ) - p.reps as rep_gap
from next_target as n
cross join per_rep as p
