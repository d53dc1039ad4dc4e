-- loaded_batch_count: the files ingest loaded (batch $batch_id only, when not NULL).
-- Grain: one row.
select count(*) as files
from ingest_batches
where status = 'loaded' and ($batch_id is null or batch_id = $batch_id)
