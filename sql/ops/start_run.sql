-- start_run: record command $command as run $run_id, running from now.
-- Grain: one run.
insert into runs (run_id, command, started_at, status)
values ($run_id, $command, current_timestamp::timestamp, 'running')
