-- mart_measurability: which metric families the data can measure, and why not when it cannot.
-- Grain: metric (one row each, always present, whatever the data).
-- measurable: the data holds what the metric needs. reason: NULL when there is nothing to say,
--   else a code: why the metric cannot be measured, or the caveat a measurable one carries.
-- deals_affected: the deals behind the reason; deals_considered: the deals the metric looks at.
-- Metrics, over the deals known at as_of (int_deals_as_of):
--   stage_history: some deal has a recorded stage history (a stage event of origin history,
--     stage_dates or snapshots entered by as_of; current_only is the current stage alone).
--     reason no_stage_history. affected: deals without history; considered: every deal.
--   stage_conversion: some lost deal has a known last open stage (else every step reads 100%).
--     reason no_lost_deals (no lost deal at all) or lost_stage_unknown (some or all lost deals
--     have no known stage; measurable while at least one is known). affected: lost deals of
--     unknown stage; considered: lost deals.
--   time_in_stage: some stint in an open stage completed by as_of (mart_stage_duration).
--     reason no_stage_history, or no_completed_stint when history exists. affected, considered:
--     as for stage_history.
--   win_rate: some deal closed in the trailing window (mart_kpis). reason no_closed_deals,
--     no_close_dates (deals closed, none at a known time: see time_windows), or the caveat
--     no_lost_deals when deals were won but no deal known at as_of was ever lost (the
--     export may leave lost deals out). affected: lost deals (0); considered: closed deals.
--   open_pipeline_amount: some open deal has an amount in the reporting currency. reason
--     no_open_deals, or open_without_amount when some open deals have none (they add nothing to
--     open_pipeline_base). affected: open deals without amount; considered: open deals.
--   owner, lead_source: some deal has a value. reason not_in_export (no deal has one) or
--     missing_values (some lack it). affected: deals without a value; considered: every deal.
--   time_windows: every figure over a time window (win rate, won amount, average won deal, cycle,
--     velocity, per-owner and per-source results, bookings, the forecast) places a closed deal
--     by its close date: measurable when some closed deal has one (or none is closed). reason
--     no_close_dates (closed deals, none with a close date: a win/loss extract), or the caveat
--     missing_close_dates. affected: closed deals without a close date; considered: closed deals.
--   cycle_time: the sales cycle, deals and pipeline created per period, cohorts and the forecast's
--     deal-age model read created_at: measurable when some deal has one. reason
--     no_created_dates (no deal has one), or the caveat missing_created_at (those deals are left
--     out of these figures only). affected: deals without created_at; considered: every deal.
with params as (
    select as_of
    from build_params
),

history_deals as (
    select distinct
        e.source,
        e.deal_id
    from deal_stage_events as e
    cross join params as p
    where e.origin <> 'current_only' and e.entered_at <= p.as_of
),

deal_facts as (
    select
        count(*) as deals,
        count(h.deal_id) as deals_with_history,
        count(*) filter (where d.status = 'lost') as lost_deals,
        count(*) filter (where d.status in ('won', 'lost')) as closed_deals,
        count(*) filter (where g.lost_stage_unknown) as lost_stage_unknown,
        count(*) filter (where d.status = 'open') as open_deals,
        count(*) filter (
            where d.status = 'open' and d.amount_base is null
        ) as open_without_amount,
        count(*) filter (where d.owner is null) as without_owner,
        count(*) filter (where d.lead_source is null) as without_lead_source,
        count(*) filter (
            where d.status in ('won', 'lost') and d.closed_at is null
        ) as closed_without_date,
        count(*) filter (where d.created_at is null) as without_created_at
    from int_deals_as_of as d
    left join history_deals as h on d.source = h.source and d.deal_id = h.deal_id
    left join int_deal_progress as g on d.source = g.source and d.deal_id = g.deal_id
),

completed_stints as (
    select count(*) as open_stage_rows
    from mart_stage_duration
    where stage_order is not null
),

window_facts as (
    select won_deals + lost_deals as closed_in_window
    from mart_kpis
),

metrics as (
    select
        1 as metric_order,
        'stage_history' as metric,
        f.deals_with_history > 0 as measurable,
        case when f.deals_with_history = 0 then 'no_stage_history' end as reason,
        f.deals - f.deals_with_history as deals_affected,
        f.deals as deals_considered
    from deal_facts as f

    union all

    select
        2 as metric_order,
        'stage_conversion' as metric,
        f.lost_deals > f.lost_stage_unknown as measurable,
        case
            when f.lost_deals = 0 then 'no_lost_deals'
            when f.lost_stage_unknown > 0 then 'lost_stage_unknown'
        end as reason,
        f.lost_stage_unknown as deals_affected,
        f.lost_deals as deals_considered
    from deal_facts as f

    union all

    select
        3 as metric_order,
        'time_in_stage' as metric,
        c.open_stage_rows > 0 as measurable,
        case
            when c.open_stage_rows > 0 then null
            when f.deals_with_history = 0 then 'no_stage_history'
            else 'no_completed_stint'
        end as reason,
        f.deals - f.deals_with_history as deals_affected,
        f.deals as deals_considered
    from deal_facts as f
    cross join completed_stints as c

    union all

    select
        4 as metric_order,
        'win_rate' as metric,
        coalesce(w.closed_in_window, 0) > 0 as measurable,
        case
            when
                coalesce(w.closed_in_window, 0) = 0
                and f.closed_deals > 0
                and f.closed_without_date = f.closed_deals
                then 'no_close_dates'
            when coalesce(w.closed_in_window, 0) = 0 then 'no_closed_deals'
            when f.lost_deals = 0 then 'no_lost_deals'
        end as reason,
        f.lost_deals as deals_affected,
        f.closed_deals as deals_considered
    from deal_facts as f
    left join window_facts as w on true

    union all

    select
        5 as metric_order,
        'open_pipeline_amount' as metric,
        f.open_deals > f.open_without_amount as measurable,
        case
            when f.open_deals = 0 then 'no_open_deals'
            when f.open_without_amount > 0 then 'open_without_amount'
        end as reason,
        f.open_without_amount as deals_affected,
        f.open_deals as deals_considered
    from deal_facts as f

    union all

    select
        6 as metric_order,
        'owner' as metric,
        f.deals > f.without_owner as measurable,
        case
            when f.deals = f.without_owner then 'not_in_export'
            when f.without_owner > 0 then 'missing_values'
        end as reason,
        f.without_owner as deals_affected,
        f.deals as deals_considered
    from deal_facts as f

    union all

    select
        7 as metric_order,
        'lead_source' as metric,
        f.deals > f.without_lead_source as measurable,
        case
            when f.deals = f.without_lead_source then 'not_in_export'
            when f.without_lead_source > 0 then 'missing_values'
        end as reason,
        f.without_lead_source as deals_affected,
        f.deals as deals_considered
    from deal_facts as f

    union all

    select
        8 as metric_order,
        'time_windows' as metric,
        f.closed_deals = 0 or f.closed_deals > f.closed_without_date as measurable,
        case
            when f.closed_deals > 0 and f.closed_deals = f.closed_without_date
                then 'no_close_dates'
            when f.closed_without_date > 0 then 'missing_close_dates'
        end as reason,
        f.closed_without_date as deals_affected,
        f.closed_deals as deals_considered
    from deal_facts as f

    union all

    select
        9 as metric_order,
        'cycle_time' as metric,
        f.deals > f.without_created_at as measurable,
        case
            when f.deals = f.without_created_at then 'no_created_dates'
            when f.without_created_at > 0 then 'missing_created_at'
        end as reason,
        f.without_created_at as deals_affected,
        f.deals as deals_considered
    from deal_facts as f
)

select
    metric,
    measurable,
    reason,
    deals_affected,
    deals_considered
from metrics
order by metric_order
