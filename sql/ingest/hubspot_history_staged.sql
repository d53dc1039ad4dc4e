-- hubspot_history_staged: temp table staged_history from temp view hubspot_stage_entries (each
-- line's "Date entered" columns as a list of stage, pipeline and entry time; see
-- adapters/hubspot.py) and temp table staged_deals: one stage change per filled date of a live,
-- valid deal. A deal has dates only in its own pipeline's columns, unless it moved pipelines.
-- Grain: one row per deal and stage it entered.
create or replace temp table staged_history as
with entries as (
    select
        _row,
        unnest(entries) as entry
    from hubspot_stage_entries
)

select
    e._row,
    d.deal_id,
    e.entry.stage,
    e.entry.entered_at as changed_at,
    'stage_dates' as origin,
    null::varchar as reject_reason,
    null::varchar as reject_column,
    null::varchar as exclude_reason
from entries as e
inner join staged_deals as d on e._row = d._row
where
    e.entry.entered_at is not null
    and d.reject_reason is null
    and d.exclude_reason is null
    and (
        e.entry.pipeline is null
        or d.pipeline is null
        or e.entry.pipeline = d.pipeline
    )
