-- current_command: the command running now (the caller holds the warehouse lock, so at most one
-- runs row is 'running'), whose run_id an alert or notification records.
-- Grain: one row (none outside a recorded command).
select run_id
from runs
where status = 'running'
order by run_id desc
limit 1
