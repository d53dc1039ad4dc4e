-- mart_kpis_by_dimension: the mart_kpis columns cut by every dimension of int_kpis_by_window
-- (all, owner, lead_source, pipeline, deal_type, segment), over the same trailing window.
-- Grain: dimension x dimension_value. A value appears when it has deals open at as_of, closed in
-- the window or created in it; the 'all' row is mart_kpis. KPI columns as in int_kpis_by_window.
select
    k.dimension,
    k.dimension_value,
    k.window_end as as_of,
    k.window_start,
    k.open_deals,
    k.open_pipeline_base,
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
    k.sales_velocity_per_day,
    k.created_deals,
    k.created_pipeline_base,
    k.created_won_deals,
    k.created_to_won_rate
from int_kpis_by_window as k
where
    k.window_kind = 'as_of'
    and (
        k.dimension = 'all'
        or k.open_deals + k.won_deals + k.lost_deals + k.created_deals > 0
    )
order by k.dimension, k.dimension_value
