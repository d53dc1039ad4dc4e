-- mart_kpis_by_period: the KPIs per month, fiscal quarter and fiscal year, for all deals and per
-- value of every dimension (owner, lead_source, pipeline, deal_type, segment).
-- Grain: period_kind ('month', 'quarter', 'year') x period_start x dimension x dimension_value.
-- Periods and fiscal_year / fiscal_quarter as in int_kpi_windows (fiscal start from config); the
-- period holding as_of ends at as_of (is_partial). A value has a row in every period ending after
-- its first deal was created, with zeros when nothing happened.
-- created_*: deals created in the period; won_deals ... median_cycle_days_won: deals closed in it;
-- open_deals_end, open_pipeline_end: deals open at the period's end.
-- sales_velocity_per_day: over the trailing lookback_days ending at the period's end.
-- Column definitions as in int_kpis_by_window.
select
    k.window_kind as period_kind,
    k.period_start,
    k.window_end as period_end,
    k.is_partial,
    k.fiscal_year,
    k.fiscal_quarter,
    k.dimension,
    k.dimension_value,
    k.created_deals,
    k.created_pipeline_base,
    k.created_won_deals,
    k.created_to_won_rate,
    k.won_deals,
    k.lost_deals,
    k.won_amount_base,
    k.lost_amount_base,
    k.win_rate,
    k.win_rate_amount,
    k.avg_won_size,
    k.median_won_size,
    k.mean_cycle_days_won,
    k.median_cycle_days_won,
    k.open_deals as open_deals_end,
    k.open_pipeline_base as open_pipeline_end,
    t.sales_velocity_per_day
from int_kpis_by_window as k
left join int_kpis_by_window as t
    on
        t.window_kind = 'month_trailing'
        and k.window_end = t.window_end
        and k.dimension = t.dimension
        and k.dimension_value = t.dimension_value
where k.window_kind in ('month', 'quarter', 'year')
order by k.dimension, k.dimension_value, k.window_kind, k.period_start
