-- latest_step_outcome: how step $step (ingest, build, forecast, backtest, report) ended the last
-- time a command ran it.
-- Grain: one row (none before the step first ran).
select
    status,
    message,
    finished_at
from run_steps
where step = $step
order by finished_at desc nulls last, run_id desc
limit 1
