-- int_kpis_by_window: the KPIs of metrics.md over every window of int_kpi_windows, for all deals
-- and per value of every dimension of int_deal_dimensions; every KPI mart selects from it.
-- Grain: window (window_kind, window_end) x dimension x dimension_value. A value has a row in every
--   window ending after its first deal was created (dimension 'all': every window), with zeros
--   when it had no deal in the window, so period-over-period comparisons meet zeros, not gaps.
-- Open deals: created by window_end and not closed by then, valued at amount_base
--   (int_deals_as_of). won_deals, lost_deals: deals closed in the window
--   (window_start < closed_at <= window_end). created_deals, created_pipeline_base: deals
--   created in the window; created_won_deals: those of them won by as_of.
-- win_rate = won / (won + lost); win_rate_amount = won amount / (won + lost amount), over deals
--   with a known amount; avg_won_size, median_won_size over won deals with a known amount;
--   mean/median_cycle_days_won over won deals with a valid cycle (see int_deals_as_of).
-- created_to_won_rate = created_won_deals / created_deals (open deals count against it).
-- sales_velocity_per_day = open_deals x win_rate x avg_won_size / mean_cycle_days_won.
-- Rates and ratios with an empty denominator are NULL.
with deal_roles as (
    select
        w.window_kind,
        w.window_end,
        d.source,
        d.deal_id,
        d.status,
        d.amount_base,
        d.cycle_days,
        'open_at_end' as deal_role
    from int_kpi_windows as w
    inner join int_deals_as_of as d
        on w.window_end >= d.known_from and w.window_end < d.open_until

    union all

    select
        w.window_kind,
        w.window_end,
        d.source,
        d.deal_id,
        d.status,
        d.amount_base,
        d.cycle_days,
        'closed' as deal_role
    from int_kpi_windows as w
    inner join int_deals_as_of as d
        on w.window_start < d.closed_at and w.window_end >= d.closed_at

    union all

    select
        w.window_kind,
        w.window_end,
        d.source,
        d.deal_id,
        d.status,
        d.amount_base,
        d.cycle_days,
        'created' as deal_role
    from int_kpi_windows as w
    inner join int_deals_as_of as d
        on w.window_start < d.created_at and w.window_end >= d.created_at
),

role_facts as (
    select
        r.window_kind,
        r.window_end,
        dd.dimension,
        dd.dimension_value,
        r.amount_base,
        r.cycle_days,
        r.deal_role = 'open_at_end' as open_at_end,
        r.deal_role = 'closed' and r.status = 'won' as won_in_window,
        r.deal_role = 'closed' and r.status = 'lost' as lost_in_window,
        r.deal_role = 'created' as created_in_window,
        r.deal_role = 'created' and r.status = 'won' as created_and_won
    from deal_roles as r
    inner join int_deal_dimensions as dd
        on r.source = dd.source and r.deal_id = dd.deal_id
),

window_totals as (
    select
        window_kind,
        window_end,
        dimension,
        dimension_value,
        count(*) filter (where open_at_end) as open_deals,
        sum(amount_base) filter (where open_at_end) as open_pipeline_base,
        count(*) filter (where won_in_window) as won_deals,
        count(*) filter (where lost_in_window) as lost_deals,
        sum(amount_base) filter (where won_in_window) as won_amount_base,
        sum(amount_base) filter (where lost_in_window) as lost_amount_base,
        avg(amount_base) filter (where won_in_window) as avg_won_size,
        quantile_cont(amount_base, 0.5) filter (where won_in_window) as median_won_size,
        avg(cycle_days) filter (where won_in_window) as mean_cycle_days_won,
        quantile_cont(cycle_days, 0.5) filter (where won_in_window) as median_cycle_days_won,
        count(*) filter (where created_in_window) as created_deals,
        sum(amount_base) filter (where created_in_window) as created_pipeline_base,
        count(*) filter (where created_and_won) as created_won_deals
    from role_facts
    group by window_kind, window_end, dimension, dimension_value
),

dimension_values as (
    -- 'all' is in every window, even one without a single deal
    select
        'all' as dimension,
        'all' as dimension_value,
        '-infinity'::timestamp as first_known

    union all

    select
        dd.dimension,
        dd.dimension_value,
        min(d.known_from) as first_known
    from int_deal_dimensions as dd
    inner join int_deals_as_of as d
        on dd.source = d.source and dd.deal_id = d.deal_id
    where dd.dimension != 'all'
    group by dd.dimension, dd.dimension_value
),

window_counts as (
    select
        w.window_kind,
        w.period_start,
        w.fiscal_year,
        w.fiscal_quarter,
        w.is_partial,
        w.window_start,
        w.window_end,
        v.dimension,
        v.dimension_value,
        t.avg_won_size,
        t.median_won_size,
        t.mean_cycle_days_won,
        t.median_cycle_days_won,
        coalesce(t.open_deals, 0) as open_deals,
        coalesce(t.open_pipeline_base, 0) as open_pipeline_base,
        coalesce(t.won_deals, 0) as won_deals,
        coalesce(t.lost_deals, 0) as lost_deals,
        coalesce(t.won_amount_base, 0) as won_amount_base,
        coalesce(t.lost_amount_base, 0) as lost_amount_base,
        coalesce(t.created_deals, 0) as created_deals,
        coalesce(t.created_pipeline_base, 0) as created_pipeline_base,
        coalesce(t.created_won_deals, 0) as created_won_deals
    from int_kpi_windows as w
    inner join dimension_values as v on w.window_end >= v.first_known
    left join window_totals as t
        on
            w.window_kind = t.window_kind
            and w.window_end = t.window_end
            and v.dimension = t.dimension
            and v.dimension_value = t.dimension_value
),

window_rates as (
    select
        *,
        won_deals / nullif(won_deals + lost_deals, 0) as win_rate,
        won_amount_base / nullif(won_amount_base + lost_amount_base, 0) as win_rate_amount,
        created_won_deals / nullif(created_deals, 0) as created_to_won_rate
    from window_counts
)

select
    window_kind,
    period_start,
    fiscal_year,
    fiscal_quarter,
    is_partial,
    window_start,
    window_end,
    dimension,
    dimension_value,
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
    created_deals,
    created_pipeline_base,
    created_won_deals,
    created_to_won_rate,
    open_deals * win_rate * avg_won_size / nullif(mean_cycle_days_won, 0) as sales_velocity_per_day
from window_rates
