-- mark_interrupted_runs: the runs still recorded as running when a new command starts under the
-- warehouse lock ended without recording an outcome; they become `interrupted`.
-- Grain: run.
update runs set
    status = 'interrupted',
    error = 'ended without recording an outcome (killed, or the machine stopped)'
where status = 'running'
