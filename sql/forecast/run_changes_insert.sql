-- run_changes_insert: the deals that moved the forecast between run $run (as of $as_of) and the
-- previous base run (not a what-if scenario's) whose method is one of $methods (the runs that
-- store the engine's forecast_deals), for a base run $run only:
-- new open deals, deals no longer open (won, lost, or gone from the export), and deals whose
-- expected value or stage changed: `pushed` / `pulled` when the CRM's expected close date moved
-- later / earlier (forecast_deal_periods of both runs), else `amount` when the amount changed,
-- else `updated`. Nothing when there is no previous run.
-- Grain: one row per (source, deal_id) that moved, into forecast_changes.
insert into forecast_changes
with previous as (
    select max(run_id) as run_id
    from forecast_runs
    where list_contains($methods, method) and run_id < $run and scenario is null
),

this_run as (
    select scenario from forecast_runs
    where run_id = $run
),

before as (
    select f.*
    from forecast_deals as f
    inner join previous as p on f.run_id = p.run_id
),

now as (
    select * from forecast_deals
    where run_id = $run
),

close_dates as (
    select
        d.source,
        d.deal_id,
        any_value(d.expected_close_date) filter (where d.run_id = $run) as close_now,  -- noqa: RF02
        any_value(d.expected_close_date) filter (where d.run_id = p.run_id) as close_before
    from forecast_deal_periods as d
    inner join previous as p on d.run_id = $run or d.run_id = p.run_id  -- noqa: RF02
    where d.status = 'open'
    group by d.source, d.deal_id
)

select
    $run as run_id,  -- noqa: RF02
    p.run_id as previous_run_id,
    coalesce(n.source, b.source) as source,  -- noqa: RF04
    coalesce(n.deal_id, b.deal_id) as deal_id,
    case
        when b.deal_id is null then 'new'
        when n.deal_id is not null and c.close_now > c.close_before then 'pushed'
        when n.deal_id is not null and c.close_now < c.close_before then 'pulled'
        when n.deal_id is not null and n.amount_base != b.amount_base then 'amount'
        when n.deal_id is not null then 'updated'
        when d.status in ('won', 'lost') and d.closed_at <= $as_of then d.status  -- noqa: RF02
        else 'removed'
    end as change,  -- noqa: RF04
    n.stage,
    b.stage as previous_stage,
    n.win_probability,
    b.win_probability as previous_win_probability,
    n.expected_value_base,
    b.expected_value_base as previous_expected_value_base,
    coalesce(n.expected_value_base, 0) - coalesce(b.expected_value_base, 0) as delta_base
from now as n
full outer join before as b
    on n.source = b.source and n.deal_id = b.deal_id
cross join previous as p
cross join this_run as r
left join deals as d
    on d.source = coalesce(n.source, b.source) and d.deal_id = coalesce(n.deal_id, b.deal_id)
left join close_dates as c
    on n.source = c.source and n.deal_id = c.deal_id
where
    p.run_id is not null
    and r.scenario is null
    and (
        n.deal_id is null
        or b.deal_id is null
        or coalesce(n.expected_value_base, 0) != coalesce(b.expected_value_base, 0)
        or n.stage is distinct from b.stage
        or n.amount_base != b.amount_base
        or c.close_now != c.close_before
    )
