-- A history file's amount, close-date and status edits (temp table staged_changes) for source
-- $source, batch $batch_id, each kept once (overlapping history exports repeat them).
-- Grain: inserts into deal_changes, one row per (deal_id, field, changed_at, new_value).
insert into deal_changes by name
select distinct
    $source::varchar as source,  -- noqa: RF04
    deal_id,
    field,
    old_value,
    new_value,
    changed_at,
    $batch_id::integer as batch_id
from staged_changes as s
where not exists (
    select 1 from deal_changes as c
    where
        c.source = $source  -- noqa: RF02
        and c.deal_id = s.deal_id
        and c.field = s.field
        and c.changed_at = s.changed_at
        and c.new_value is not distinct from s.new_value
)
