-- A history file's stage changes (temp table staged_history) for source $source, batch
-- $batch_id: rows that repeat the deal's previous stage in the file are not changes (history
-- tables log every amount edit with the current stage). A stage held since creation (no
-- changed_at) starts at the deal's creation; without a creation date the row tells no time and is
-- left out. Overlapping history exports repeat changes: a change the source already stored is
-- not added again (an anti join, free when the source has none stored yet).
-- The file is read once for its timed rows and once more only for its untimed ones (a scan that
-- skips row groups without NULLs), and the stored changes are an anti join rather than a
-- correlated NOT EXISTS, so no 10M-row intermediate is materialised: one sort of the file.
-- Grain: inserts into stage_changes, one row per (deal_id, changed_at, stage) change.
insert into stage_changes by name
with incoming as (
    select
        _row,
        deal_id,
        stage,
        origin,
        changed_at
    from staged_history
    where
        reject_reason is null and exclude_reason is null and stage is not null
        and changed_at is not null
    union all
    select
        v._row,
        v.deal_id,
        v.stage,
        v.origin,
        d.created_at as changed_at
    from staged_history as v
    inner join deals as d on d.source = $source and v.deal_id = d.deal_id  -- noqa: RF02
    where
        v.reject_reason is null and v.exclude_reason is null and v.stage is not null
        and v.changed_at is null and d.created_at is not null
),

changes as (
    -- The order of stage_events_insert (changed_at, source_row, origin), less origin: one file's
    -- staged rows all have the same origin (each adapter writes one literal), and a shorter sort
    -- key sorts 10M rows faster.
    select
        *,
        lag(stage) over (partition by deal_id order by changed_at, _row) as previous_stage
    from incoming
),

stored as (
    select
        c.deal_id,
        c.stage,
        c.changed_at
    from stage_changes as c
    where c.source = $source  -- noqa: RF02
)

select
    $source::varchar as source,  -- noqa: RF04, RF02
    h.deal_id,
    h.stage,
    h.changed_at,
    $batch_id::integer as batch_id,  -- noqa: RF02
    h._row as source_row,
    h.origin
from changes as h
anti join stored as s
    on h.deal_id = s.deal_id and h.stage = s.stage and h.changed_at = s.changed_at
where h.previous_stage is distinct from h.stage
