-- mart_rep_performance: the mart_kpis columns per owner, over the same window, plus workload.
-- Grain: owner; deals without an owner are owner '(none)'. Owners appear when they have open deals
-- at as_of or deals closed in the window. KPI columns as defined in int_kpis_by_window.
-- load_ratio = the owner's open deals / the median open deals over owners with at least one open
--   deal; '(none)' is no rep, so it is neither in the median nor given a ratio (NULL).
-- over_allocated: load_ratio > 1.5; under_allocated: load_ratio < 0.5 (NULL when load_ratio is).
with owner_kpis as (
    select *
    from int_kpis_by_window
    where window_kind = 'as_of' and segment = 'owner'
),

typical_load as (
    select quantile_cont(open_deals, 0.5) as median_open_deals
    from owner_kpis
    where open_deals > 0 and owner != '(none)'
),

owner_load as (
    select
        o.*,
        case
            when o.owner != '(none)' then o.open_deals / tl.median_open_deals
        end as load_ratio
    from owner_kpis as o
    cross join typical_load as tl
)

select
    owner,
    window_end as as_of,
    window_start,
    open_deals,
    open_pipeline_base,
    won_deals,
    lost_deals,
    won_amount_base,
    lost_amount_base,
    win_rate,
    win_rate_amount,
    avg_won_size,
    median_won_size,
    mean_cycle_days_won,
    median_cycle_days_won,
    sales_velocity_per_day,
    load_ratio,
    load_ratio > 1.5 as over_allocated,
    load_ratio < 0.5 as under_allocated
from owner_load
order by owner
