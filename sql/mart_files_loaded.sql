-- mart_files_loaded: the export files loaded into the warehouse, in total, as the report's data
-- quality section counts them.
-- Grain: one row.
-- Every batch of ingest_batches with status 'loaded', whatever as_of: what the warehouse holds
--   (the report says when the last of them was loaded from ingest_batches itself: a wall-clock
--   time would make the mart differ between two builds of the same data).
-- files: the files (batches); rows_read, rows_loaded, rows_rejected: their rows summed (NULL
--   when no file is loaded).
select
    count(*) as files,
    sum(rows_read)::bigint as rows_read,
    sum(rows_loaded)::bigint as rows_loaded,
    sum(rows_rejected)::bigint as rows_rejected
from ingest_batches
where status = 'loaded'
