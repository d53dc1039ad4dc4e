-- last_runs: the five latest recorded commands, newest first.
-- Grain: run.
select
    run_id,
    command,
    started_at,
    finished_at,
    status,
    rows_rejected,
    error
from runs
order by run_id desc
limit 5
