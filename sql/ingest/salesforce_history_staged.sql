-- salesforce_history_staged: temp table staged_history from temp tables history_rows and
-- history_steps: a row records a stage only where the stage differs from the deal's previous
-- row (a save that changed the amount alone is a valid row with no stage).
-- Grain: one row per line of the file.
create or replace temp table staged_history as
select
    r._row,
    r.deal_id,
    case when not (s.previous_stage is not distinct from s.stage) then r.stage end as stage,
    r.changed_at,
    'history' as origin,
    r.reject_reason,
    r.reject_column,
    r.exclude_reason
from history_rows as r
left join history_steps as s on r._row = s._row
