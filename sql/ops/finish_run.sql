-- finish_run: record how run $run_id ended: its status, error and outcome (NULL where the command
-- has none).
-- Grain: one run.
update runs set
    finished_at = current_timestamp::timestamp,
    status = $status,
    error = $error,
    files_loaded = $files_loaded,
    rows_loaded = $rows_loaded,
    rows_rejected = $rows_rejected,
    forecast_run_id = $forecast_run_id,
    report_path = $report_path
where run_id = $run_id
