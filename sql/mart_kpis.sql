-- mart_kpis: the headline KPIs at as_of, over the trailing lookback window, for all deals.
-- Grain: one row (as_of). window_start = as_of - lookback_days (exclusive): closed deals count when
-- window_start < closed_at <= as_of. Every KPI column is defined in int_kpis_by_window; the same
-- columns per owner, lead source, pipeline, deal type and segment are in mart_kpis_by_dimension.
-- open_deals_without_amount: of open_deals, those without an amount in the reporting currency (no
--   amount, or a currency without a rate): they add nothing to open_pipeline_base, while sales
--   velocity counts them at the average won deal, so the report says how many there are.
with open_amounts as (
    select count(*) filter (where amount_base is null) as open_deals_without_amount
    from int_deals_as_of
    where status = 'open'
)

select
    k.window_end as as_of,
    bp.lookback_days,
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
    k.created_to_won_rate,
    oa.open_deals_without_amount
from int_kpis_by_window as k
cross join build_params as bp
cross join open_amounts as oa
where k.window_kind = 'as_of' and k.dimension = 'all'
