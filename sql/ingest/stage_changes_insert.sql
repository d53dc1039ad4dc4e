-- A history file's stage changes (temp table staged_history) for source $source, batch
-- $batch_id: rows that repeat the deal's previous stage in the file are not changes (history
-- tables log every amount edit with the current stage). A stage held since creation (no
-- changed_at) starts at the deal's creation; without a creation date the row tells no time and is
-- left out. Overlapping history exports repeat changes: when the source has stored changes
-- ($any_stored), a change already stored is not added again.
-- Grain: inserts into stage_changes, one row per (deal_id, changed_at, stage) change.
insert into stage_changes by name
with valid as (
    select
        _row,
        deal_id,
        stage,
        origin,
        changed_at
    from staged_history
    where reject_reason is null and exclude_reason is null and stage is not null
),

incoming as (
    select * from valid
    where changed_at is not null
    union all
    select
        v._row,
        v.deal_id,
        v.stage,
        v.origin,
        d.created_at as changed_at
    from valid as v
    inner join deals as d on d.source = $source and v.deal_id = d.deal_id  -- noqa: RF02
    where v.changed_at is null
),

changes as (
    select
        *,
        lag(stage) over (partition by deal_id order by changed_at, _row, origin)
            as previous_stage
    from incoming
    where changed_at is not null
)

select
    $source::varchar as source,  -- noqa: RF04
    deal_id,
    stage,
    changed_at,
    $batch_id::integer as batch_id,
    _row as source_row,
    origin
from changes as h
where
    previous_stage is distinct from stage
    and (
        not $any_stored
        or not exists (
            select 1 from stage_changes as c
            where
                c.source = $source  -- noqa: RF02
                and c.deal_id = h.deal_id
                and c.stage = h.stage
                and c.changed_at = h.changed_at
        )
    )
