-- mart_rep_performance: the KPIs per owner over the trailing window of mart_kpis, with workload
-- and the owner's gaps against the team. Grain: owner; deals without an owner are owner '(none)'.
-- Owners appear when they have open deals at as_of or deals closed in the window. KPI columns as
-- defined in int_kpis_by_window; the team is every deal (the mart_kpis row).
-- load_ratio = the owner's open deals / the median open deals over owners with at least one open
--   deal; '(none)' is no rep, so it is neither in the median nor given a ratio (NULL).
-- over_allocated: load_ratio > 1.5; under_allocated: load_ratio < 0.5 (NULL when load_ratio is).
-- open_pipeline_share = the owner's open_pipeline_base / the team's.
-- team_win_rate: the team's win_rate. win_rate_vs_team = win_rate - team_win_rate (points).
-- win_rate_z: two-proportion z statistic of the owner's win rate against the rest of the team,
--   (p_owner - p_rest) / sqrt(p_team x (1 - p_team) x (1 / n_owner + 1 / n_rest)), n = won + lost;
--   win_rate_below_team: win_rate_z < -2 (a gap unlikely to be chance, about 2.3% one-sided).
-- avg_won_size_vs_team, median_cycle_vs_team: the owner's avg_won_size and median_cycle_days_won
--   divided by the team's (1.0 = like the team; cycle above 1 = slower).
with owner_kpis as (
    select *
    from int_kpis_by_window
    where
        window_kind = 'as_of'
        and dimension = 'owner'
        and (open_deals > 0 or won_deals + lost_deals > 0)
),

team as (
    select *
    from int_kpis_by_window
    where window_kind = 'as_of' and dimension = 'all'
),

typical_load as (
    select quantile_cont(open_deals, 0.5) as median_open_deals
    from owner_kpis
    where open_deals > 0 and dimension_value != '(none)'
),

owner_vs_team as (
    select
        o.*,
        t.win_rate as team_win_rate,
        (t.won_deals - o.won_deals)
        / nullif(t.won_deals + t.lost_deals - o.won_deals - o.lost_deals, 0) as rest_win_rate,
        1 / nullif(o.won_deals + o.lost_deals, 0)
        + 1 / nullif(t.won_deals + t.lost_deals - o.won_deals - o.lost_deals, 0) as inverse_sizes,
        case
            when o.dimension_value != '(none)' then o.open_deals / tl.median_open_deals
        end as load_ratio,
        o.open_pipeline_base / nullif(t.open_pipeline_base, 0) as open_pipeline_share,
        o.avg_won_size / nullif(t.avg_won_size, 0) as avg_won_size_vs_team,
        o.median_cycle_days_won / nullif(t.median_cycle_days_won, 0) as median_cycle_vs_team
    from owner_kpis as o
    cross join team as t
    cross join typical_load as tl
),

owner_gaps as (
    select
        *,
        (win_rate - rest_win_rate)
        / nullif(sqrt(team_win_rate * (1 - team_win_rate) * inverse_sizes), 0) as win_rate_z
    from owner_vs_team
)

-- The column order is part of the documented interface (docs/metrics.md).
select  -- noqa: ST06
    dimension_value as owner,
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
    created_deals,
    created_pipeline_base,
    load_ratio,
    load_ratio > 1.5 as over_allocated,
    load_ratio < 0.5 as under_allocated,
    open_pipeline_share,
    team_win_rate,
    win_rate - team_win_rate as win_rate_vs_team,
    win_rate_z,
    win_rate_z < -2 as win_rate_below_team,
    avg_won_size_vs_team,
    median_cycle_vs_team
from owner_gaps
order by owner
