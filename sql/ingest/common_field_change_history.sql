-- common_field_change_history: temp table staged_history from temp table change_rows: every row
-- (a row of another field is a valid row that records no stage), and for each deal's first
-- stage change the stage it left, as held since the deal's creation (no change time).
-- Grain: one row per line of the file, plus one per deal with a stage change.
create or replace temp table staged_history as
select
    _row,
    deal_id,
    case when field_kind = 'stage' then new_text end as stage,
    changed_at,
    'history' as origin,
    reject_reason,
    reject_column,
    exclude_reason
from change_rows
union all
-- The stage a deal left at its first recorded change is the one it was created in.
select
    _row,
    deal_id,
    old_text as stage,
    null::timestamp as changed_at,
    'history' as origin,
    null as reject_reason,
    null as reject_column,
    null as exclude_reason
from (
    select
        _row,
        deal_id,
        old_text,
        row_number() over (partition by deal_id order by changed_at, _row) as n
    from change_rows
    where field_kind = 'stage' and reject_reason is null and exclude_reason is null
) as stage_changes
where n = 1 and old_text is not null
