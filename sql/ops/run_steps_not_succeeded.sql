-- run_steps_not_succeeded: the steps of run $run_id that were skipped or failed, in the order they
-- finished.
-- Grain: step.
select
    step,
    status,
    message
from run_steps
where run_id = $run_id and status <> 'succeeded'
order by finished_at, step
