-- generic_history_staged: temp table staged_history from temp view history_reading (a generic
-- history file's deal id, stage and change time as read, typed and checked; see
-- adapters/generic.py). Grain: one stage change per line of the file.
create or replace temp table staged_history as
select
    _row,
    deal_id,
    stage,
    changed_at_value as changed_at,
    'history' as origin,
    failures as reject_reason,
    failed_column as reject_column,
    null::varchar as exclude_reason
from history_reading
