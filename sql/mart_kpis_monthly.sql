-- mart_kpis_monthly: the KPIs per calendar month, from the first month with a created deal through
-- as_of's month (cut at as_of). Grain: month (its first day).
-- created_deals, created_pipeline_base: deals created in the month, valued at current amount_base.
-- won_deals, lost_deals, won_amount_base, win_rate, avg_won_size, median_cycle_days_won: deals
--   closed in the month. open_deals_end, open_pipeline_end: deals open at the month's end.
-- sales_velocity_per_day: as in mart_kpis, over the trailing lookback_days to the month's end.
-- Column definitions as in int_kpis_by_window.
with created as (
    select
        date_trunc('month', created_at)::date as month,
        count(*) as created_deals,
        coalesce(sum(amount_base), 0) as created_pipeline_base
    from int_deals_as_of
    where created_at is not null
    group by date_trunc('month', created_at)::date
),

trailing_velocity as (
    select
        month,
        sales_velocity_per_day
    from int_kpis_by_window
    where window_kind = 'month_trailing' and segment = 'all'
)

select
    m.month,
    m.window_end as month_end,
    m.won_deals,
    m.lost_deals,
    m.won_amount_base,
    m.win_rate,
    m.avg_won_size,
    m.median_cycle_days_won,
    m.open_deals as open_deals_end,
    m.open_pipeline_base as open_pipeline_end,
    t.sales_velocity_per_day,
    coalesce(c.created_deals, 0) as created_deals,
    coalesce(c.created_pipeline_base, 0) as created_pipeline_base
from int_kpis_by_window as m
inner join trailing_velocity as t on m.month = t.month
left join created as c on m.month = c.month
where m.window_kind = 'month' and m.segment = 'all'
order by m.month
