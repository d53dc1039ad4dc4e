-- capacity_reps: each rep's monthly bookings capacity against an equal share of the target
-- $target over $period_months months (the next target of sql/forecast/capacity.sql), from the
-- trailing window of mart_rep_performance.
-- Reps: owners (not '(none)') who created pipeline in the window (created_pipeline_base > 0).
-- monthly_created = created_pipeline_base / window months ((as_of - window_start) days /
--   (365.25 / 12)); monthly_capacity = monthly_created x the rep's win_rate_amount (NULL when the
--   rep closed nothing in the window: no win rate to go on).
-- monthly_share = $target / $period_months / reps: the rep's equal part of the target a month.
-- load = monthly_share / monthly_capacity; overloaded: load > 1.5 (the share is well beyond what
--   the rep's creation books); underloaded: load < 0.5 (capacity to spare); NULL with the load.
-- Grain: rep (owner), the most loaded first.
with reps as (
    select
        owner,
        win_rate_amount,
        created_pipeline_base / (date_diff('second', window_start, as_of) / 86400 / (365.25 / 12))
            as monthly_created
    from mart_rep_performance
    where owner != '(none)' and created_pipeline_base > 0
),

shared as (
    select
        *,
        monthly_created * win_rate_amount as monthly_capacity,
        $target / $period_months / count(*) over () as monthly_share
    from reps
)

select
    owner,
    monthly_created,
    win_rate_amount,
    monthly_capacity,
    monthly_share,
    monthly_share / nullif(monthly_capacity, 0) as load,  -- noqa: RF04
    monthly_share / nullif(monthly_capacity, 0) > 1.5 as overloaded,
    monthly_share / nullif(monthly_capacity, 0) < 0.5 as underloaded
from shared
order by load desc nulls last, owner asc
