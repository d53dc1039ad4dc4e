-- run_steps: one step of a recorded command, written as the step ends: 'succeeded', 'skipped'
-- (the data cannot support it; message says why) or 'failed' (message: the error's one line).
-- Steps after a failure that stopped the command have no row.
-- Grain: one row per run_id and step. Columns: docs/metrics.md.
create table if not exists run_steps (
    run_id integer,
    step varchar,
    status varchar,
    message varchar,
    finished_at timestamp
);
