-- rejected_rows: every rejected row (of batch $batch_id, or every batch when NULL) with its file,
-- line, column, reason and raw record, as `rejects --out` writes them.
-- Grain: rejected row, by batch and line.
select
    b.batch_id,
    b.source,
    b.object,
    b.file_path as file,  -- noqa: RF04
    r.source_row as line,  -- noqa: RF04
    r.column_name as "column",
    r.reason,
    r.raw_record
from rejected_rows as r
inner join ingest_batches as b on r.batch_id = b.batch_id
where $batch_id is null or b.batch_id = $batch_id  -- noqa: RF02
order by b.batch_id, r.source_row
