-- scenario_rep_creation: the median rep's pipeline created per month as of $as_of, which each rep
-- a scenario adds ramps up to (added_reps). Per owner: amount_base of the deals created in the
-- lookback window (build_params.lookback_days) up to $as_of, per month of that window (days /
-- (365.25 / 12)); the median over the owners who created any. Deals without an owner or a
-- positive amount are left out.
-- Grain: one row; median_monthly_created_base NULL when no owner created pipeline.
with created_by_owner as (
    select
        d.owner,
        sum(d.amount_base) as created_base
    from int_deals_as_of as d, build_params as bp
    where
        d.owner is not null
        and d.amount_base > 0
        and d.created_at > $as_of - to_days(bp.lookback_days)  -- noqa: RF02
        and d.created_at <= $as_of  -- noqa: RF02
    group by d.owner
)

select
    count(c.owner) as reps,
    quantile_cont(c.created_base, 0.5) * (365.25 / 12) / any_value(bp.lookback_days)
        as median_monthly_created_base
from build_params as bp
left join created_by_owner as c on true
