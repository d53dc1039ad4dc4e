-- int_kpis_by_window: the KPIs of metrics.md over every window of int_kpi_windows, for all deals
-- and per value of every cut; every KPI mart selects from it.
-- Grain: window (window_kind, window_end) x dimension x dimension_value. A value has a row in every
--   window ending after its first deal was created (dimension 'all': every window), with zeros
--   when it had no deal in the window, so period-over-period comparisons meet zeros, not gaps.
-- Cuts: dimension 'all' (dimension_value 'all': every deal), 'owner', 'lead_source', 'pipeline',
--   'deal_type' and 'segment' (the one custom field a source maps to the canonical `segment`
--   column, e.g. region or product); a missing value is '(none)'. The list of cuts is the `cuts`
--   struct of deal_cuts and the rows of cell_cuts below and nowhere else: adding a cut is adding a
--   field there and its row here, and every KPI mart picks it up.
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
-- Pruned: 'month_trailing' windows are read only for their sales_velocity_per_day
--   (mart_kpis_by_period), so their median_won_size and median_cycle_days_won are not computed
--   (NULL); every other column is.
-- How, so that the cost grows with the deals and not deals x windows x cuts: deals with the same
--   value in every cut (a cell) are summed together, and each cell's sums then added into each of
--   its cuts. The windows' starts and ends cut time into slices, each wholly inside or outside
--   every window, so deals closed or created are summed per slice, then per window over its
--   slices. Medians need the values themselves: each won deal's are joined to the few windows it
--   closed in (one per kind) and to its cell's cuts, a fixed number of rows per deal. Amounts and
--   cycle days are summed as DECIMAL, exact whatever order DuckDB adds them in: the same deals
--   always give the same figure, so an unchanged pipeline changes by exactly zero
--   (mart_kpi_changes).
-- Portable (DuckDB and Spark): cuts become rows by a union, not a struct->map cast and unnest;
--   slices are found by a range join, not ASOF; medians are quantile_cont over rows, not lists;
--   'all' starts at 1900-01-01 (the open start of time ranges), not -infinity.
with deal_cuts as (
    select
        known_from,
        open_until,
        created_at,
        closed_at,
        status,
        amount_base,
        cycle_days,
        amount_base::decimal(38, 6) as exact_amount,
        cycle_days::decimal(38, 9) as exact_cycle_days,
        {
            'owner': coalesce(owner, '(none)'),
            'lead_source': coalesce(lead_source, '(none)'),
            'pipeline': coalesce(pipeline, '(none)'),
            'deal_type': coalesce(deal_type, '(none)'),
            'segment': coalesce(segment, '(none)')
        } as cuts
    from int_deals_as_of
),

cells as (
    select
        cuts,
        row_number() over (order by cuts) as cell_id
    from (select distinct cuts from deal_cuts) as distinct_cuts
),

cell_cuts as (
    select
        cell_id,
        'all' as dimension,
        'all' as dimension_value
    from cells

    union all

    select
        c.cell_id,
        'owner' as dimension,
        c.cuts.owner as dimension_value
    from cells as c

    union all

    select
        c.cell_id,
        'lead_source' as dimension,
        c.cuts.lead_source as dimension_value
    from cells as c

    union all

    select
        c.cell_id,
        'pipeline' as dimension,
        c.cuts.pipeline as dimension_value
    from cells as c

    union all

    select
        c.cell_id,
        'deal_type' as dimension,
        c.cuts.deal_type as dimension_value
    from cells as c

    union all

    select
        c.cell_id,
        'segment' as dimension,
        c.cuts.segment as dimension_value
    from cells as c
),

deal_cells as (
    select
        c.cell_id,
        d.known_from,
        d.open_until,
        d.created_at,
        d.closed_at,
        d.status,
        d.amount_base,
        d.cycle_days,
        d.exact_amount,
        d.exact_cycle_days
    from deal_cuts as d
    inner join cells as c on d.cuts = c.cuts
),

window_bounds as (
    select window_start as bound from int_kpi_windows
    union
    select window_end as bound from int_kpi_windows
),

slices as (
    -- slice_start < t <= slice_end, between two consecutive bounds
    select
        bound as slice_start,
        lead(bound) over (order by bound) as slice_end
    from window_bounds
    qualify slice_end is not null
),

slice_windows as (
    select
        s.slice_start,
        w.window_kind,
        w.window_end
    from slices as s
    inner join int_kpi_windows as w
        on s.slice_start >= w.window_start and s.slice_end <= w.window_end
),

slice_roles as (
    -- the slice holding the time (slices do not overlap); past the last bound, none
    select
        s.slice_start,
        d.cell_id,
        d.amount_base,
        d.cycle_days,
        d.exact_amount,
        d.exact_cycle_days,
        d.status = 'won' as won_in_slice,
        d.status = 'lost' as lost_in_slice,
        false as created_in_slice,
        false as created_and_won
    from deal_cells as d
    inner join slices as s on d.closed_at > s.slice_start and d.closed_at <= s.slice_end

    union all

    select
        s.slice_start,
        d.cell_id,
        d.amount_base,
        d.cycle_days,
        d.exact_amount,
        d.exact_cycle_days,
        false as won_in_slice,
        false as lost_in_slice,
        true as created_in_slice,
        d.status = 'won' as created_and_won
    from deal_cells as d
    inner join slices as s on d.created_at > s.slice_start and d.created_at <= s.slice_end
),

slice_facts as (
    select
        slice_start,
        cell_id,
        count(*) filter (where won_in_slice) as won_deals,
        count(*) filter (where lost_in_slice) as lost_deals,
        sum(exact_amount) filter (where won_in_slice) as won_amount_base,
        sum(exact_amount) filter (where lost_in_slice) as lost_amount_base,
        count(amount_base) filter (where won_in_slice) as won_sized_deals,
        sum(exact_cycle_days) filter (where won_in_slice) as won_cycle_days,
        count(cycle_days) filter (where won_in_slice) as won_cycled_deals,
        count(*) filter (where created_in_slice) as created_deals,
        sum(exact_amount) filter (where created_in_slice) as created_pipeline_base,
        count(*) filter (where created_and_won) as created_won_deals
    from slice_roles
    group by slice_start, cell_id
),

window_cell_facts as (
    select
        sw.window_kind,
        sw.window_end,
        f.cell_id,
        sum(f.won_deals) as won_deals,
        sum(f.lost_deals) as lost_deals,
        sum(f.won_amount_base) as won_amount_base,
        sum(f.lost_amount_base) as lost_amount_base,
        sum(f.won_sized_deals) as won_sized_deals,
        sum(f.won_cycle_days) as won_cycle_days,
        sum(f.won_cycled_deals) as won_cycled_deals,
        sum(f.created_deals) as created_deals,
        sum(f.created_pipeline_base) as created_pipeline_base,
        sum(f.created_won_deals) as created_won_deals
    from slice_windows as sw
    inner join slice_facts as f on sw.slice_start = f.slice_start
    group by sw.window_kind, sw.window_end, f.cell_id
),

window_totals as (
    select
        f.window_kind,
        f.window_end,
        c.dimension,
        c.dimension_value,
        sum(f.won_deals)::bigint as won_deals,
        sum(f.lost_deals)::bigint as lost_deals,
        sum(f.won_amount_base)::double as won_amount_base,
        sum(f.lost_amount_base)::double as lost_amount_base,
        sum(f.won_amount_base)::double / nullif(sum(f.won_sized_deals), 0) as avg_won_size,
        sum(f.won_cycle_days)::double / nullif(sum(f.won_cycled_deals), 0) as mean_cycle_days_won,
        sum(f.created_deals)::bigint as created_deals,
        sum(f.created_pipeline_base)::double as created_pipeline_base,
        sum(f.created_won_deals)::bigint as created_won_deals
    from window_cell_facts as f
    inner join cell_cuts as c on f.cell_id = c.cell_id
    group by f.window_kind, f.window_end, c.dimension, c.dimension_value
),

window_medians as (
    -- each won deal once per window it closed in and per cut of its cell; month_trailing pruned
    select
        sw.window_kind,
        sw.window_end,
        c.dimension,
        c.dimension_value,
        quantile_cont(r.amount_base, 0.5) as median_won_size,
        quantile_cont(r.cycle_days, 0.5) as median_cycle_days_won
    from slice_roles as r
    inner join slice_windows as sw on r.slice_start = sw.slice_start
    inner join cell_cuts as c on r.cell_id = c.cell_id
    where r.won_in_slice and sw.window_kind != 'month_trailing'
    group by sw.window_kind, sw.window_end, c.dimension, c.dimension_value
),

window_ends as (
    -- windows ending together (a month, its quarter, ...) share their open deals
    select distinct window_end from int_kpi_windows
),

open_cells as (
    select
        e.window_end,
        d.cell_id,
        count(*) as open_deals,
        sum(d.exact_amount) as open_pipeline_base
    from window_ends as e
    inner join deal_cells as d
        on e.window_end >= d.known_from and e.window_end < d.open_until
    group by e.window_end, d.cell_id
),

open_totals as (
    select
        o.window_end,
        c.dimension,
        c.dimension_value,
        sum(o.open_deals)::bigint as open_deals,
        sum(o.open_pipeline_base)::double as open_pipeline_base
    from open_cells as o
    inner join cell_cuts as c on o.cell_id = c.cell_id
    group by o.window_end, c.dimension, c.dimension_value
),

cell_first_known as (
    select
        cell_id,
        min(known_from) as first_known
    from deal_cells
    group by cell_id
),

dimension_values as (
    -- 'all' is in every window, even one without a single deal
    select
        'all' as dimension,
        'all' as dimension_value,
        timestamp '1900-01-01 00:00:00' as first_known

    union all

    select
        c.dimension,
        c.dimension_value,
        min(f.first_known) as first_known
    from cell_first_known as f
    inner join cell_cuts as c on f.cell_id = c.cell_id
    where c.dimension != 'all'
    group by c.dimension, c.dimension_value
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
        m.median_won_size,
        t.mean_cycle_days_won,
        m.median_cycle_days_won,
        coalesce(o.open_deals, 0) as open_deals,
        coalesce(o.open_pipeline_base, 0) as open_pipeline_base,
        coalesce(t.won_deals, 0) as won_deals,
        coalesce(t.lost_deals, 0) as lost_deals,
        coalesce(t.won_amount_base, 0) as won_amount_base,
        coalesce(t.lost_amount_base, 0) as lost_amount_base,
        coalesce(t.created_deals, 0) as created_deals,
        coalesce(t.created_pipeline_base, 0) as created_pipeline_base,
        coalesce(t.created_won_deals, 0) as created_won_deals
    from int_kpi_windows as w
    inner join dimension_values as v on w.window_end >= v.first_known
    left join open_totals as o
        on
            w.window_end = o.window_end
            and v.dimension = o.dimension
            and v.dimension_value = o.dimension_value
    left join window_totals as t
        on
            w.window_kind = t.window_kind
            and w.window_end = t.window_end
            and v.dimension = t.dimension
            and v.dimension_value = t.dimension_value
    left join window_medians as m
        on
            w.window_kind = m.window_kind
            and w.window_end = m.window_end
            and v.dimension = m.dimension
            and v.dimension_value = m.dimension_value
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
