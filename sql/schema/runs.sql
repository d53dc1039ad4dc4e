-- runs: one command run, whatever its outcome.
-- Grain: one row per run_id. Columns: docs/metrics.md.
create table if not exists runs (
    run_id integer,
    command varchar,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    files_loaded integer,
    rows_loaded bigint,
    rows_rejected bigint,
    forecast_run_id integer,
    report_path varchar,
    error varchar
);
