-- mart_kpi_changes: period-over-period change of the headline KPIs, per month, fiscal quarter and
-- fiscal year, for all deals and per dimension value (the periods of mart_kpis_by_period).
-- Grain: period_kind x period_start x dimension x dimension_value x kpi.
-- kpi: created_deals, created_pipeline_base, won_deals, lost_deals, won_amount_base, win_rate,
--   avg_won_size, median_cycle_days_won, open_deals_end, open_pipeline_end,
--   sales_velocity_per_day; value: its value in the period (as a DOUBLE).
-- prev_period_value: the same KPI in the period before (the month, quarter or year before);
-- prev_year_value: in the same period a year earlier. NULL when that period lies before the data
--   (or the dimension value did not exist yet), or when the KPI itself is NULL there.
-- change_vs_prev_period = value - prev_period_value (for a rate: the change in points, 0.05 = 5
--   points); rel_change_vs_prev_period = value / prev_period_value - 1 (NULL when the previous
--   value is 0 or NULL). The same for _prev_year. is_partial: the period holding as_of ends at
--   as_of, so it is compared with complete earlier periods.
with period_kpis as (
    select
        p.period_kind,
        p.period_start,
        p.is_partial,
        p.dimension,
        p.dimension_value,
        unnest([
            { 'kpi': 'created_deals', 'value': p.created_deals::double },
            { 'kpi': 'created_pipeline_base', 'value': p.created_pipeline_base::double },
            { 'kpi': 'won_deals', 'value': p.won_deals::double },
            { 'kpi': 'lost_deals', 'value': p.lost_deals::double },
            { 'kpi': 'won_amount_base', 'value': p.won_amount_base::double },
            { 'kpi': 'win_rate', 'value': p.win_rate },
            { 'kpi': 'avg_won_size', 'value': p.avg_won_size },
            { 'kpi': 'median_cycle_days_won', 'value': p.median_cycle_days_won },
            { 'kpi': 'open_deals_end', 'value': p.open_deals_end::double },
            { 'kpi': 'open_pipeline_end', 'value': p.open_pipeline_end::double },
            { 'kpi': 'sales_velocity_per_day', 'value': p.sales_velocity_per_day }
        ]) as kpi_value
    from mart_kpis_by_period as p
),

kpi_values as (
    select
        period_kind,
        period_start,
        is_partial,
        dimension,
        dimension_value,
        kpi_value['kpi'] as kpi,
        kpi_value['value'] as value  -- noqa: RF04
    from period_kpis
),

period_steps as (
    select
        *,
        case period_kind when 'month' then 1 when 'quarter' then 3 else 12 end as period_months
    from kpi_values
)

select
    c.period_kind,
    c.period_start,
    c.is_partial,
    c.dimension,
    c.dimension_value,
    c.kpi,
    c.value,
    prev.value as prev_period_value,
    last_year.value as prev_year_value,
    c.value - prev.value as change_vs_prev_period,
    c.value / nullif(prev.value, 0) - 1 as rel_change_vs_prev_period,
    c.value - last_year.value as change_vs_prev_year,
    c.value / nullif(last_year.value, 0) - 1 as rel_change_vs_prev_year
from period_steps as c
left join kpi_values as prev
    on
        c.period_kind = prev.period_kind
        and c.dimension = prev.dimension
        and c.dimension_value = prev.dimension_value
        and c.kpi = prev.kpi
        and prev.period_start = (c.period_start - to_months(c.period_months))::date
left join kpi_values as last_year
    on
        c.period_kind = last_year.period_kind
        and c.dimension = last_year.dimension
        and c.dimension_value = last_year.dimension_value
        and c.kpi = last_year.kpi
        and last_year.period_start = (c.period_start - interval 12 month)::date
order by c.dimension, c.dimension_value, c.kpi, c.period_kind, c.period_start
