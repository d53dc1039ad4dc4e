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
-- Portable (DuckDB and Spark): one row per KPI from a cross join with the KPI names and a case
--   (not unnest of a list of structs), and interval 1 month * n (no to_months on Spark).
with kpi_names as (
    select k.kpi
    from (
        values
        ('created_deals'),
        ('created_pipeline_base'),
        ('won_deals'),
        ('lost_deals'),
        ('won_amount_base'),
        ('win_rate'),
        ('avg_won_size'),
        ('median_cycle_days_won'),
        ('open_deals_end'),
        ('open_pipeline_end'),
        ('sales_velocity_per_day')
    ) as k (kpi)
),

kpi_values as (
    select
        p.period_kind,
        p.period_start,
        p.is_partial,
        p.dimension,
        p.dimension_value,
        k.kpi,
        case k.kpi
            when 'created_deals' then p.created_deals::double
            when 'created_pipeline_base' then p.created_pipeline_base::double
            when 'won_deals' then p.won_deals::double
            when 'lost_deals' then p.lost_deals::double
            when 'won_amount_base' then p.won_amount_base::double
            when 'win_rate' then p.win_rate
            when 'avg_won_size' then p.avg_won_size
            when 'median_cycle_days_won' then p.median_cycle_days_won
            when 'open_deals_end' then p.open_deals_end::double
            when 'open_pipeline_end' then p.open_pipeline_end::double
            when 'sales_velocity_per_day' then p.sales_velocity_per_day
        end as value  -- noqa: RF04
    from mart_kpis_by_period as p
    cross join kpi_names as k
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
        and prev.period_start = (c.period_start - interval 1 month * c.period_months)::date
left join kpi_values as last_year
    on
        c.period_kind = last_year.period_kind
        and c.dimension = last_year.dimension
        and c.dimension_value = last_year.dimension_value
        and c.kpi = last_year.kpi
        and last_year.period_start = (c.period_start - interval 12 month)::date
order by c.dimension, c.dimension_value, c.kpi, c.period_kind, c.period_start
