-- activities_insert: the good rows of temp table staged_activities become activities of source
-- $source; an activity already stored (same deal, type, time and owner: overlapping exports) and
-- a row repeated in the file are stored once.
-- Grain: one row per distinct activity of the file not stored before.
insert into activities by name
select distinct
    $source::varchar as source,  -- noqa: RF04
    s.deal_id,
    s.activity_type,
    s.occurred_at,
    s.owner
from staged_activities as s
where
    s.reject_reason is null
    and not exists (
        select 1 from activities as a
        where
            a.source = $source  -- noqa: RF02
            and a.deal_id = s.deal_id  -- noqa: RF02
            and a.occurred_at = s.occurred_at  -- noqa: RF02
            and a.activity_type is not distinct from s.activity_type  -- noqa: RF02
            and a.owner is not distinct from s.owner  -- noqa: RF02
    )
