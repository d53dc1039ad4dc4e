-- mart_kpi_quarter_changes: the headline KPIs of the (fiscal) quarter holding as_of, to date,
-- against the quarter before it, for all deals: what the report's executive summary compares.
-- Grain: kpi. Empty when the data has no quarter (no deal known by as_of).
-- period_start .. fiscal_quarter: the current quarter, as in mart_kpis_by_period (period_end is
--   as_of, is_partial true while the quarter runs). prev_*: the quarter before it; NULL when the
--   data starts in the current quarter.
-- kpi, value, prev_period_value, change_vs_prev_period, rel_change_vs_prev_period: as in
--   mart_kpi_changes (its quarter rows for dimension 'all'), plus mean_cycle_days_won from
--   mart_kpis_by_period: the mean days from creation to close of the deals won in the quarter,
--   the cycle sales velocity divides by.
-- fiscal_year_start_month: the build's (1 = January when unset), for naming the quarters.
with quarters as (
    select
        period_start,
        period_end,
        is_partial,
        fiscal_year,
        fiscal_quarter,
        mean_cycle_days_won,
        row_number() over (order by period_start desc) as quarters_back
    from mart_kpis_by_period
    where period_kind = 'quarter' and dimension = 'all'
),

current_quarter as (
    select * from quarters
    where quarters_back = 1
),

previous_quarter as (
    select * from quarters
    where quarters_back = 2
),

quarter_kpis as (
    select
        kc.kpi,
        kc.value,
        kc.prev_period_value,
        kc.change_vs_prev_period,
        kc.rel_change_vs_prev_period
    from mart_kpi_changes as kc
    inner join current_quarter as cq on kc.period_start = cq.period_start
    where kc.period_kind = 'quarter' and kc.dimension = 'all'

    union all

    select
        'mean_cycle_days_won' as kpi,
        cq.mean_cycle_days_won as value,  -- noqa: RF04
        pq.mean_cycle_days_won as prev_period_value,
        cq.mean_cycle_days_won - pq.mean_cycle_days_won as change_vs_prev_period,
        cq.mean_cycle_days_won / nullif(pq.mean_cycle_days_won, 0) - 1
            as rel_change_vs_prev_period
    from current_quarter as cq
    left join previous_quarter as pq on true
)

select
    cq.period_start,
    cq.period_end,
    cq.is_partial,
    cq.fiscal_year,
    cq.fiscal_quarter,
    pq.period_start as prev_period_start,
    pq.period_end as prev_period_end,
    pq.fiscal_year as prev_fiscal_year,
    pq.fiscal_quarter as prev_fiscal_quarter,
    k.kpi,
    k.value,
    k.prev_period_value,
    k.change_vs_prev_period,
    k.rel_change_vs_prev_period,
    coalesce(bp.fiscal_year_start_month, 1) as fiscal_year_start_month
from quarter_kpis as k
cross join current_quarter as cq
left join previous_quarter as pq on true
cross join build_params as bp
order by k.kpi
