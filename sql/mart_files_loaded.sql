-- mart_files_loaded: the export files loaded into the warehouse, in total, as the report's data
-- quality section counts them.
-- Grain: one row.
-- Every batch of ingest_batches with status 'loaded', whatever as_of: what the warehouse holds.
-- files: the files (batches); rows_read, rows_loaded, rows_rejected: their rows summed (NULL
--   when no file is loaded); last_loaded_at: when the last of them finished loading.
select
    count(*) as files,
    sum(rows_read) as rows_read,
    sum(rows_loaded) as rows_loaded,
    sum(rows_rejected) as rows_rejected,
    max(finished_at) as last_loaded_at
from ingest_batches
where status = 'loaded'
