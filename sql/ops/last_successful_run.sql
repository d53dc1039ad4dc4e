-- last_successful_run: the latest `run` command that succeeded (or partly: some step skipped or
-- failed while the others did their work).
-- Grain: one row (none before the first).
select
    run_id,
    finished_at
from runs
where command = 'run' and status in ('succeeded', 'partial')
order by finished_at desc
limit 1
