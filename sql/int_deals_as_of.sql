-- int_deals_as_of: every deal as it stood at build_params.as_of; the KPI and funnel models read it.
-- Grain: source x deal_id, for deals created by as_of (a deal with an unknown created_at is kept).
-- status: 'won'/'lost' only if the deal closed by as_of (or closed at an unknown time); a deal that
--   closed after as_of was still open then. closed_at: NULL unless closed by as_of.
-- stage, stage_order: the current stage from the export, known only if exported by as_of
--   (exported_by_as_of = snapshot_at <= as_of); else NULL and only stage events tell the stage.
-- cycle_days: closed_at - created_at in fractional days, for closed deals; NULL when a date is
--   missing or close_before_create (closed_at < created_at: excluded from cycle statistics).
with known_deals as (
    select
        d.source,
        d.deal_id,
        d.pipeline,
        d.owner,
        d.lead_source,
        d.amount_base,
        d.created_at,
        d.status,
        d.closed_at,
        d.stage,
        d.stage_order,
        d.status != 'open' and coalesce(d.closed_at <= bp.as_of, true) as closed_by_as_of,
        coalesce(d.snapshot_at <= bp.as_of, true) as exported_by_as_of
    from deals as d
    cross join build_params as bp
    where d.created_at <= bp.as_of or d.created_at is null
)

select
    source,
    deal_id,
    pipeline,
    owner,
    lead_source,
    amount_base,
    created_at,
    exported_by_as_of,
    case when closed_by_as_of then status else 'open' end as status,
    case when closed_by_as_of then closed_at end as closed_at,
    case when exported_by_as_of then stage end as stage,
    case when exported_by_as_of then stage_order end as stage_order,
    coalesce(closed_by_as_of and closed_at < created_at, false) as close_before_create,
    case
        when closed_by_as_of and closed_at >= created_at
            then (epoch(closed_at) - epoch(created_at)) / 86400.0
    end as cycle_days
from known_deals
