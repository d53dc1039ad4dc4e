-- mart_source_performance: the KPIs per lead source (channel: inbound, outbound, referral, paid,
-- events, ... whatever the export carries) over the trailing window of mart_kpis, with the
-- created->won conversion of each channel's deals. Grain: lead_source; deals without one are
-- '(none)'. A source appears when it has deals open at as_of, closed or created in the window.
-- KPI columns as defined in int_kpis_by_window (win rate and cycle: deals closed in the window).
-- created_deals, created_pipeline_base: deals created in the window; created_won_deals: of those,
--   won by as_of; created_to_won_rate = created_won_deals / created_deals. Deals created late in
--   the window are mostly still open, so this rate understates the channel's final conversion.
-- share_of_created_deals, share_of_won_amount: the source's created_deals and won_amount_base as a
--   fraction of all deals'.
with source_kpis as (
    select *
    from int_kpis_by_window
    where
        window_kind = 'as_of'
        and dimension = 'lead_source'
        and open_deals + won_deals + lost_deals + created_deals > 0
),

team as (
    select
        created_deals,
        won_amount_base
    from int_kpis_by_window
    where window_kind = 'as_of' and dimension = 'all'
)

select
    s.dimension_value as lead_source,
    s.window_end as as_of,
    s.window_start,
    s.open_deals,
    s.open_pipeline_base,
    s.won_deals,
    s.lost_deals,
    s.won_amount_base,
    s.lost_amount_base,
    s.win_rate,
    s.win_rate_amount,
    s.avg_won_size,
    s.median_won_size,
    s.mean_cycle_days_won,
    s.median_cycle_days_won,
    s.sales_velocity_per_day,
    s.created_deals,
    s.created_pipeline_base,
    s.created_won_deals,
    s.created_to_won_rate,
    s.created_deals / nullif(t.created_deals, 0) as share_of_created_deals,
    s.won_amount_base / nullif(t.won_amount_base, 0) as share_of_won_amount
from source_kpis as s
cross join team as t
order by lead_source
