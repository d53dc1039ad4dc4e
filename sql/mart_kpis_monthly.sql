-- mart_kpis_monthly: the KPIs per calendar month for all deals, from the first month with a
-- created deal through as_of's month (cut at as_of). Grain: month (its first day).
-- The month rows of mart_kpis_by_period for dimension 'all', with the fiscal year and quarter the
-- month belongs to; quarter and year rollups and per-dimension cuts are in mart_kpis_by_period,
-- changes against the previous period and the previous year in mart_kpi_changes.
-- created_deals, created_pipeline_base: deals created in the month, valued at amount_base.
-- won_deals, lost_deals, won_amount_base, win_rate, avg_won_size, median_cycle_days_won: deals
--   closed in the month. open_deals_end, open_pipeline_end: deals open at the month's end.
-- sales_velocity_per_day: as in mart_kpis, over the trailing lookback_days to the month's end.
select
    period_start as month,
    period_end as month_end,
    is_partial,
    fiscal_year,
    fiscal_quarter,
    won_deals,
    lost_deals,
    won_amount_base,
    win_rate,
    avg_won_size,
    median_cycle_days_won,
    open_deals_end,
    open_pipeline_end,
    sales_velocity_per_day,
    created_deals,
    created_pipeline_base
from mart_kpis_by_period
where period_kind = 'month' and dimension = 'all'
order by month
