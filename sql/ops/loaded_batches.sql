-- loaded_batches: the files ingest loaded, per source and object: how many, the rows loaded and
-- rejected, and the newest export's snapshot time.
-- Grain: source x object.
select
    source,
    object,
    count(*) as files,
    sum(rows_loaded) as rows_loaded,
    sum(rows_rejected) as rows_rejected,
    max(snapshot_at) as latest_snapshot_at
from ingest_batches
where status = 'loaded'
group by source, object
order by source, object
