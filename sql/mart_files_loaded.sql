-- mart_files_loaded: the export files loaded into the warehouse, in total, as the report's data
-- quality section counts them.
-- Grain: one row.
-- The batches of ingest_batches with status 'loaded' taken by as_of (snapshot_at at or before it;
--   a file without one counts), the files mart_rejects counts rejects over.
-- files: the files (batches); rows_read, rows_loaded, rows_rejected: their rows summed (NULL
--   when no file is loaded); last_loaded_at: when the last of them finished loading.
select
    count(*) as files,
    sum(b.rows_read)::bigint as rows_read,
    sum(b.rows_loaded)::bigint as rows_loaded,
    sum(b.rows_rejected)::bigint as rows_rejected,
    max(b.finished_at) as last_loaded_at
from ingest_batches as b
cross join build_params as p
where
    b.status = 'loaded'
    and coalesce(b.snapshot_at <= p.as_of, true)
