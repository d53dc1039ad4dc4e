-- A file's batch is loaded: its row counts, the time it finished and status $loaded.
-- Grain: updates one row of ingest_batches ($batch_id).
update ingest_batches
set
    rows_read = $rows_read,
    rows_loaded = $rows_loaded,
    rows_rejected = $rows_rejected,
    rows_excluded = $rows_excluded,
    finished_at = current_timestamp::timestamp,
    status = $loaded
where batch_id = $batch_id
