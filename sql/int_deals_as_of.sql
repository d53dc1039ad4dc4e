-- int_deals_as_of: every deal as it stood at build_params.as_of; the KPI, funnel, flow and quality
-- models read it. Grain: source x deal_id, for deals known by as_of (known_from <= as_of).
-- status: 'won'/'lost' only if the deal closed by as_of (or closed at an unknown time); a deal that
--   closed after as_of was still open then. closed_at: NULL unless closed by as_of.
-- stage, stage_order, activity_count: from the current export, known only if it was exported by
--   as_of (exported_by_as_of = snapshot_at <= as_of); else NULL (stage events tell the stage).
-- amount_base, owner, expected_close_date: from the deal's latest snapshot taken by as_of
--   (deal_snapshots); a deal with no snapshot by then (first exported later, or inserted without
--   one) takes its current values, the only ones known; snapshot_by_as_of says which.
-- amount, currency, lead_source, deal_type, segment: from the current export.
-- cycle_days: closed_at - created_at in fractional days, for closed deals; NULL when a date is
--   missing or close_before_create (closed_at < created_at: excluded from cycle statistics).
-- known_from: when the deal was first known: created_at; for a deal without one (an export that
--   leaves it blank), its first recorded stage change, else its first snapshot (the export that
--   first showed it); 1900-01-01 00:00:00 ("always", as fx_rates.valid_from) when none is known (a
--   warehouse from before snapshots).
-- open_until: 9999-12-31 23:59:59 ("never") for an open deal, its
--   closed_at for a closed one, NULL for a closed deal whose close time is unknown (never counted
--   open). A deal is open at time t when known_from <= t < open_until.
-- Portable (DuckDB and Spark): known_since is filtered on in a CTE after the one computing it (no
--   select alias in WHERE), and the open ends are those two timestamps (Spark has no infinity).
with undated_deals as (
    -- only these need a first stage change or snapshot: the scans stay small on big warehouses
    select
        source,
        deal_id
    from deals
    where created_at is null
),

first_stage_change as (
    select
        c.source,
        c.deal_id,
        min(c.changed_at) as first_changed_at
    from stage_changes as c
    semi join undated_deals as u on c.source = u.source and c.deal_id = u.deal_id
    group by c.source, c.deal_id
),

first_snapshot as (
    select
        s.source,
        s.deal_id,
        min(s.snapshot_at) as first_snapshot_at
    from deal_snapshots as s
    semi join undated_deals as u on s.source = u.source and s.deal_id = u.deal_id
    group by s.source, s.deal_id
),

snapshot_by_as_of as (
    select
        s.source,
        s.deal_id,
        s.amount_base,
        s.owner,
        s.expected_close_date
    from deal_snapshots as s
    cross join build_params as bp
    where s.snapshot_at <= bp.as_of
    qualify row_number() over (
        partition by s.source, s.deal_id order by s.snapshot_at desc, s.batch_id desc
    ) = 1
),

deals_known_since as (
    select
        d.source,
        d.deal_id,
        d.pipeline,
        d.lead_source,
        d.deal_type,
        d.segment,
        d.currency,
        d.amount,
        d.created_at,
        d.status,
        d.closed_at,
        d.stage,
        d.stage_order,
        d.activity_count,
        bp.as_of,
        case when s.deal_id is not null then s.amount_base else d.amount_base end as amount_base,
        case when s.deal_id is not null then s.owner else d.owner end as owner,
        case
            when s.deal_id is not null then s.expected_close_date else d.expected_close_date
        end as expected_close_date,
        s.deal_id is not null as snapshot_by_as_of,
        d.status != 'open' and coalesce(d.closed_at <= bp.as_of, true) as closed_by_as_of,
        coalesce(d.snapshot_at <= bp.as_of, true) as exported_by_as_of,
        coalesce(
            d.created_at, c.first_changed_at, f.first_snapshot_at, d.snapshot_at
        ) as known_since
    from deals as d
    cross join build_params as bp
    left join snapshot_by_as_of as s
        on d.source = s.source and d.deal_id = s.deal_id
    left join first_stage_change as c
        on d.source = c.source and d.deal_id = c.deal_id
    left join first_snapshot as f
        on d.source = f.source and d.deal_id = f.deal_id
)

select
    source,
    deal_id,
    pipeline,
    owner,
    lead_source,
    deal_type,
    segment,
    currency,
    amount,
    amount_base,
    created_at,
    exported_by_as_of,
    snapshot_by_as_of,
    expected_close_date,
    case when closed_by_as_of then status else 'open' end as status,
    case when closed_by_as_of then closed_at end as closed_at,
    case when exported_by_as_of then stage end as stage,
    case when exported_by_as_of then stage_order end as stage_order,
    case when exported_by_as_of then activity_count end as activity_count,
    coalesce(closed_by_as_of and closed_at < created_at, false) as close_before_create,
    case
        when closed_by_as_of and closed_at >= created_at
            then (epoch(closed_at) - epoch(created_at)) / 86400.0
    end as cycle_days,
    coalesce(known_since, timestamp '1900-01-01 00:00:00') as known_from,
    case
        when not closed_by_as_of then timestamp '9999-12-31 23:59:59'
        else closed_at
    end as open_until
from deals_known_since
where coalesce(known_since <= as_of, true)
