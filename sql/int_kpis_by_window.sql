-- int_kpis_by_window: the KPIs of metrics.md over every window of int_kpi_windows, for all deals
-- and per owner and per lead source; mart_kpis, mart_kpis_monthly and mart_rep_performance read it.
-- Grain: window (window_kind, window_end) x segment: 'all' (owner and lead_source NULL), 'owner'
--   (one row per owner) or 'lead_source' (one row per lead source). A NULL owner or lead source is
--   '(none)'. Segment rows exist only where the segment has open or closed deals in the window.
-- Open deals: created by window_end and not closed by then, valued at their current amount_base.
-- won_deals, lost_deals: deals closed in the window (window_start < closed_at <= window_end).
-- win_rate = won / (won + lost); win_rate_amount = won amount / (won + lost amount), over deals
--   with a known amount; avg_won_size, median_won_size over won deals with a known amount;
--   mean/median_cycle_days_won over won deals with a valid cycle (see int_deals_as_of).
-- sales_velocity_per_day = open_deals x win_rate x avg_won_size / mean_cycle_days_won.
-- Rates and ratios with an empty denominator are NULL.
with deal_windows as (
    select
        w.window_kind,
        w.window_end,
        d.deal_id,
        d.status,
        d.amount_base,
        d.cycle_days,
        coalesce(d.owner, '(none)') as owner,
        coalesce(d.lead_source, '(none)') as lead_source,
        (d.created_at <= w.window_end or d.created_at is null)
        and (d.status = 'open' or d.closed_at > w.window_end) as open_at_end,
        d.closed_at > w.window_start and d.closed_at <= w.window_end as closed_in_window
    from int_kpi_windows as w
    cross join int_deals_as_of as d
),

window_deals as (
    select
        window_kind,
        window_end,
        deal_id,
        amount_base,
        cycle_days,
        owner,
        lead_source,
        open_at_end,
        closed_in_window and status = 'won' as won_in_window,
        closed_in_window and status = 'lost' as lost_in_window
    from deal_windows
    where open_at_end or closed_in_window
),

window_totals as (
    select
        w.window_kind,
        w.month,
        w.window_start,
        w.window_end,
        wd.owner,
        wd.lead_source,
        case grouping(wd.owner, wd.lead_source)
            when 3 then 'all' when 1 then 'owner' else 'lead_source'
        end as segment,
        count(wd.deal_id) filter (where wd.open_at_end) as open_deals,
        coalesce(sum(wd.amount_base) filter (where wd.open_at_end), 0) as open_pipeline_base,
        count(wd.deal_id) filter (where wd.won_in_window) as won_deals,
        count(wd.deal_id) filter (where wd.lost_in_window) as lost_deals,
        coalesce(sum(wd.amount_base) filter (where wd.won_in_window), 0) as won_amount_base,
        coalesce(sum(wd.amount_base) filter (where wd.lost_in_window), 0) as lost_amount_base,
        avg(wd.amount_base) filter (where wd.won_in_window) as avg_won_size,
        quantile_cont(wd.amount_base, 0.5) filter (where wd.won_in_window) as median_won_size,
        avg(wd.cycle_days) filter (where wd.won_in_window) as mean_cycle_days_won,
        quantile_cont(wd.cycle_days, 0.5) filter (
            where wd.won_in_window
        ) as median_cycle_days_won
    from int_kpi_windows as w
    -- left join: a window without any open or closed deal still gets its 'all' row
    left join window_deals as wd
        on w.window_kind = wd.window_kind and w.window_end = wd.window_end
    group by
        w.window_kind,
        w.month,
        w.window_start,
        w.window_end,
        grouping sets ((), (wd.owner), (wd.lead_source))
    having grouping(wd.owner, wd.lead_source) = 3 or count(wd.deal_id) > 0
),

window_rates as (
    select
        *,
        won_deals / nullif(won_deals + lost_deals, 0) as win_rate,
        won_amount_base / nullif(won_amount_base + lost_amount_base, 0) as win_rate_amount
    from window_totals
)

select
    window_kind,
    month,
    window_start,
    window_end,
    segment,
    owner,
    lead_source,
    open_deals,
    open_pipeline_base,
    won_deals,
    lost_deals,
    won_amount_base,
    lost_amount_base,
    win_rate,
    win_rate_amount,
    avg_won_size,
    median_won_size,
    mean_cycle_days_won,
    median_cycle_days_won,
    open_deals * win_rate * avg_won_size / nullif(mean_cycle_days_won, 0) as sales_velocity_per_day
from window_rates
