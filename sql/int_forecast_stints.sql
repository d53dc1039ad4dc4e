-- int_forecast_stints: every stint in an open stage begun by as_of, with what became of its deal as
-- known at as_of. The forecast engine's history of "deals in this stage at this age, and what
-- became of them" (docs/forecasting.md). Grain: one stint (source, deal_id, stage, entered_at).
-- stint_days: days in the stage (exited_at - entered_at) for a stint that ended by as_of; NULL for
--   a stint still running at as_of. age_at_as_of: as_of - entered_at in days.
-- outcome: the deal's status at as_of ('won', 'lost', 'open'); days_to_close: closed_at -
--   entered_at in days for a deal closed by as_of, else NULL.
-- Left out: stints without a known entry; deals closed at an unknown time (no time to place the
--   outcome at); deals closed before the stint began or stints that end before they begin (data
--   errors that mart_data_quality reports).
-- Written so DuckDB hashes the ~1M deals and probes them with the ~3M stints (not the reverse,
--   which its estimates chose: 2x the CPU at 1M): deals that cannot match (closed at an unknown
--   time) are dropped first, and the stint's end is checked against the deal's open_until in the
--   join's condition. coalesce(exited_at, open_until) >= entered_at is "the stint does not end
--   before it begins" for every pair the outcome condition keeps: open_until is 9999-12-31 for an
--   open deal and closed_at (>= entered_at) for a closed one.
with deals_with_outcome as (
    select
        source,
        deal_id,
        pipeline,
        status,
        closed_at,
        open_until
    from int_deals_as_of
    where status = 'open' or closed_at is not null
)

select
    e.source,
    e.deal_id,
    e.pipeline,
    e.stage,
    e.stage_order,
    e.entered_at,
    d.status as outcome,
    case
        when e.exited_at <= bp.as_of
            then (epoch(e.exited_at) - epoch(e.entered_at)) / 86400.0
    end as stint_days,
    (epoch(bp.as_of) - epoch(e.entered_at)) / 86400.0 as age_at_as_of,
    case
        when d.status != 'open'
            then (epoch(d.closed_at) - epoch(e.entered_at)) / 86400.0
    end as days_to_close
from deal_stage_events as e
inner join deals_with_outcome as d
    on e.source = d.source and e.deal_id = d.deal_id and e.pipeline = d.pipeline
cross join build_params as bp
where
    e.stage_order is not null
    and e.entered_at <= bp.as_of
    and coalesce(e.exited_at, d.open_until) >= e.entered_at
    and (d.status = 'open' or d.closed_at >= e.entered_at)
