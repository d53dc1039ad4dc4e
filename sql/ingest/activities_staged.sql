-- activities_staged: temp table staged_activities from temp view activity_reading (an activities
-- file's columns as read, typed and checked; see activities.stage_activities). Activities are
-- never excluded, only rejected.
-- Grain: one row per line of the file.
create or replace temp table staged_activities as
select
    _row,
    deal_id,
    activity_type,
    occurred_value as occurred_at,
    owner,
    nullif(failures, '') as reject_reason,
    failed_column as reject_column,
    null::varchar as exclude_reason
from activity_reading
