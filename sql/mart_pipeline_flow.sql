-- mart_pipeline_flow: how the open pipeline moved between two points in time, as an exact bridge.
-- Grain: source x basis x period (period_start, period_end].
-- basis 'snapshot': between consecutive snapshots of the source taken by as_of (the snapshot_at
--   of its deals exports, deal_snapshots). basis 'month_end': between consecutive calendar month
--   ends, rebuilt from created and close dates, from the month before the source's first known
--   deal through as_of's month (its end cut at as_of), like the months of mart_kpis_monthly.
-- A deal's state at time t, using only what was known at as_of (int_deals_as_of): open if known
--   by t (known_from: created_at; without one, its first stage change or first export) and not
--   closed by t. Its amount: amount_base of its latest
--   snapshot taken by t; before its first snapshot, that first snapshot's; never exported by
--   as_of, its current amount. Its expected close date: from deal_changes when they record
--   close-date changes (field expected_close_date, close_date or closedate) by as_of: the new
--   value of the latest change by t, else the old value of the first change after t; otherwise
--   from snapshots like the amount.
-- Amounts are rounded to cents (DECIMAL(38,2)) so the bridge is exact; a missing amount counts 0.
-- open_start, open_end (and _deals): the deals open at period_start, at period_end.
-- created (created_deals): deals created in the period, at their period_end amount; a deal without
--   a creation date enters the pipeline here when it was first known (so the bridge stays exact).
-- amount_up, amount_down: for deals open at period_start, the rise or fall of their amount from
--   period_start to period_end, including changes up to the close of those that closed.
-- won, lost (won_deals, lost_deals): deals closed won / lost in the period, at their period_end
--   amount. The bridge: open_start + created + amount_up - amount_down - won - lost = open_end,
--   and open_start_deals + created_deals - won_deals - lost_deals = open_end_deals, exactly.
-- pushed_out, pulled_in (and _deals): amount at period_end of the deals open at both ends whose
--   expected close date moved later / earlier (both dates known); not part of the bridge.
-- How, without valuing every deal in every period: a deal's value is piecewise constant
--   (deal_values: one span per snapshot), so the open pipeline at a checkpoint is a running sum of
--   events (a span of a deal's open life adds its amount where it starts and takes it off where it
--   ends); a deal is created and closes in at most one period per basis, valued at that period's
--   end; and only the periods in which its value changed can move its amount or close date.
-- Portable (DuckDB and Spark): Spark has no infinite timestamps, so a span open at its start or
--   end runs from 1900-01-01 00:00:00 or to 9999-12-31 23:59:59 (as known_from and open_until of
--   int_deals_as_of), and "known since always" is a comparison instead of isfinite(); close-date
--   spans come from int_close_date_spans (portable too); unnest(generate_series()) transpiles to
--   explode(sequence()).
with params as (
    select as_of
    from build_params
),

snapshots_by_as_of as (
    select s.*
    from deal_snapshots as s
    cross join params as p
    where s.snapshot_at <= p.as_of
),

snapshot_times as (
    select distinct
        source,
        'snapshot' as basis,
        snapshot_at as checkpoint_at
    from snapshots_by_as_of
),

source_months as (
    select
        d.source,
        unnest(generate_series(
            date_trunc(
                'month',
                min(d.known_from) filter (where d.known_from > timestamp '1900-01-01 00:00:00')
            )
            - interval 1 month,
            date_trunc('month', any_value(p.as_of)),
            interval 1 month
        )) as month_start
    from int_deals_as_of as d
    cross join params as p
    group by d.source
),

month_end_times as (
    select
        m.source,
        'month_end' as basis,
        least(m.month_start + interval 1 month - interval 1 microsecond, p.as_of) as checkpoint_at
    from source_months as m
    cross join params as p
),

checkpoints as (
    select * from snapshot_times
    union all
    select * from month_end_times
),

periods as (
    select
        source,
        basis,
        checkpoint_at as period_end,
        lag(checkpoint_at) over (
            partition by source, basis order by checkpoint_at
        ) as period_start
    from checkpoints
    qualify period_start is not null
),

-- A deal's value over time: each of its snapshots taken by as_of holds from its snapshot_at until
-- the next one, the first one also before it; a deal without one keeps its current values.
-- value_changed: the span's amount or expected close date differs from the one before.
deal_values as (
    select
        d.source,
        d.deal_id,
        d.status,
        d.known_from,
        d.open_until,
        case
            when row_number() over w = 1 then timestamp '1900-01-01 00:00:00' else s.snapshot_at
        end as valid_from,
        coalesce(lead(s.snapshot_at) over w, timestamp '9999-12-31 23:59:59') as valid_until,
        coalesce(round(
            case when s.deal_id is not null then s.amount_base else d.amount_base end, 2
        ), 0)::decimal(38, 2) as amount,
        case
            when s.deal_id is not null then s.expected_close_date else d.expected_close_date
        end as expected_close_date,
        (
            coalesce(round(s.amount_base, 2), 0)
            != coalesce(round(lag(s.amount_base) over w, 2), 0)
            or s.expected_close_date is distinct from lag(s.expected_close_date) over w
        ) as value_changed
    from int_deals_as_of as d
    left join snapshots_by_as_of as s
        on d.source = s.source and d.deal_id = s.deal_id
    window w as (partition by d.source, d.deal_id order by s.snapshot_at, s.batch_id)
),

-- The expected close date of a deal with close-date changes (int_close_date_spans, evidence
-- 'history'): the old value of the first change before it, then the new value of each change
-- until the next.
close_date_history as (
    select
        source,
        deal_id,
        valid_from,
        valid_until,
        expected_close_date
    from int_close_date_spans
    where evidence = 'history'
),

-- The open pipeline at each checkpoint, from events: each stretch of a deal's open life at one
-- amount adds that amount where it starts and takes it off where it ends; the deal counts once.
open_stretches as (
    select
        source,
        amount,
        greatest(valid_from, known_from) as stretch_from,
        least(valid_until, open_until) as stretch_until,
        valid_from <= known_from as opens_deal,
        valid_until >= open_until as closes_deal
    from deal_values
    where
        valid_from < open_until
        and known_from < valid_until
        and known_from < open_until
),

pipeline_events as (
    select
        source,
        stretch_from as event_at,
        amount,
        opens_deal::int as deals
    from open_stretches
    union all
    select
        source,
        stretch_until as event_at,
        -amount as amount,
        -closes_deal::int as deals
    from open_stretches
),

-- The events up to the first checkpoint, then those in each period; summed from the first, the
-- open pipeline at each checkpoint.
pipeline_steps as (
    select
        source,
        basis,
        null::timestamp as step_from,
        min(period_start) as step_until
    from periods
    group by source, basis
    union all
    select
        source,
        basis,
        period_start as step_from,
        period_end as step_until
    from periods
),

open_pipeline as (
    select
        s.source,
        s.basis,
        s.step_until as checkpoint_at,
        sum(coalesce(sum(e.amount), 0)) over w as amount,
        (sum(coalesce(sum(e.deals), 0)) over w)::bigint as deals
    from pipeline_steps as s
    left join pipeline_events as e
        on
            s.source = e.source
            and s.step_until >= e.event_at
            and (s.step_from < e.event_at or s.step_from is null)
    group by s.source, s.basis, s.step_until
    window w as (partition by s.source, s.basis order by s.step_until)
),

-- Created and closed deals, each at the amount of its span holding the period's end.
created_flows as (
    select
        pe.source,
        pe.basis,
        pe.period_end,
        coalesce(sum(v.amount), 0) as created,
        count(v.deal_id) as created_deals
    from periods as pe
    left join deal_values as v
        on
            pe.source = v.source
            and pe.period_start < v.known_from
            and pe.period_end >= v.known_from
            and pe.period_start < v.open_until
            and pe.period_end >= v.valid_from
            and pe.period_end < v.valid_until
    group by pe.source, pe.basis, pe.period_end
),

closed_flows as (
    select
        pe.source,
        pe.basis,
        pe.period_end,
        coalesce(sum(v.amount) filter (where v.status = 'won'), 0) as won,
        coalesce(sum(v.amount) filter (where v.status = 'lost'), 0) as lost,
        count(v.deal_id) filter (where v.status = 'won') as won_deals,
        count(v.deal_id) filter (where v.status = 'lost') as lost_deals
    from periods as pe
    left join deal_values as v
        on
            pe.source = v.source
            and pe.period_start < v.open_until
            and pe.period_end >= v.open_until
            and pe.period_end >= v.known_from
            and pe.period_end >= v.valid_from
            and pe.period_end < v.valid_until
    group by pe.source, pe.basis, pe.period_end
),

-- Amount and close-date moves: only a deal whose value changed inside a period can have moved in
-- it, so only those (deal, period) pairs are valued at both ends.
value_changes as (
    select
        source,
        deal_id,
        valid_from as changed_at
    from deal_values
    where valid_from > timestamp '1900-01-01 00:00:00' and value_changed
    union all
    select
        source,
        deal_id,
        valid_from as changed_at
    from close_date_history
    where valid_from > timestamp '1900-01-01 00:00:00'
),

changed_deals as (
    select distinct
        pe.source,
        pe.basis,
        pe.period_start,
        pe.period_end,
        c.deal_id
    from periods as pe
    inner join value_changes as c
        on
            pe.source = c.source
            and pe.period_start < c.changed_at
            and pe.period_end >= c.changed_at
),

-- Each such deal open at the period's start, at both ends (close dates from its field history
-- when it has one).
changed_values as (
    select
        c.source,
        c.basis,
        c.period_start,
        c.period_end,
        v0.amount as amount_start,
        v1.amount as amount_end,
        v1.open_until > c.period_end as open_at_end,
        case
            when h0.deal_id is not null then h0.expected_close_date else v0.expected_close_date
        end as close_date_start,
        case
            when h1.deal_id is not null then h1.expected_close_date else v1.expected_close_date
        end as close_date_end
    from changed_deals as c
    inner join deal_values as v0
        on
            c.source = v0.source
            and c.deal_id = v0.deal_id
            and c.period_start >= v0.valid_from
            and c.period_start < v0.valid_until
            and c.period_start >= v0.known_from
            and c.period_start < v0.open_until
    inner join deal_values as v1
        on
            c.source = v1.source
            and c.deal_id = v1.deal_id
            and c.period_end >= v1.valid_from
            and c.period_end < v1.valid_until
    left join close_date_history as h0
        on
            c.source = h0.source
            and c.deal_id = h0.deal_id
            and c.period_start >= h0.valid_from
            and c.period_start < h0.valid_until
    left join close_date_history as h1
        on
            c.source = h1.source
            and c.deal_id = h1.deal_id
            and c.period_end >= h1.valid_from
            and c.period_end < h1.valid_until
),

changed_flows as (
    select
        pe.source,
        pe.basis,
        pe.period_end,
        coalesce(sum(v.amount_end - v.amount_start) filter (
            where v.amount_end > v.amount_start
        ), 0) as amount_up,
        coalesce(sum(v.amount_start - v.amount_end) filter (
            where v.amount_end < v.amount_start
        ), 0) as amount_down,
        coalesce(sum(v.amount_end) filter (
            where v.open_at_end and v.close_date_end > v.close_date_start
        ), 0) as pushed_out,
        coalesce(sum(v.amount_end) filter (
            where v.open_at_end and v.close_date_end < v.close_date_start
        ), 0) as pulled_in,
        count(*) filter (
            where v.open_at_end and v.close_date_end > v.close_date_start
        ) as pushed_out_deals,
        count(*) filter (
            where v.open_at_end and v.close_date_end < v.close_date_start
        ) as pulled_in_deals
    from periods as pe
    left join changed_values as v
        on
            pe.source = v.source
            and pe.basis = v.basis
            and pe.period_end = v.period_end
    group by pe.source, pe.basis, pe.period_end
)

select
    pe.source,
    pe.basis,
    pe.period_start,
    pe.period_end,
    p0.amount as open_start,
    cr.created,
    ch.amount_up,
    ch.amount_down,
    cl.won,
    cl.lost,
    p1.amount as open_end,
    ch.pushed_out,
    ch.pulled_in,
    p0.deals as open_start_deals,
    cr.created_deals,
    cl.won_deals,
    cl.lost_deals,
    p1.deals as open_end_deals,
    ch.pushed_out_deals,
    ch.pulled_in_deals
from periods as pe
inner join open_pipeline as p0
    on pe.source = p0.source and pe.basis = p0.basis and pe.period_start = p0.checkpoint_at
inner join open_pipeline as p1
    on pe.source = p1.source and pe.basis = p1.basis and pe.period_end = p1.checkpoint_at
inner join created_flows as cr
    on pe.source = cr.source and pe.basis = cr.basis and pe.period_end = cr.period_end
inner join closed_flows as cl
    on pe.source = cl.source and pe.basis = cl.basis and pe.period_end = cl.period_end
inner join changed_flows as ch
    on pe.source = ch.source and pe.basis = ch.basis and pe.period_end = ch.period_end
order by pe.source, pe.basis, pe.period_start
