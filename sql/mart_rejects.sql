-- mart_rejects: the input rows ingest rejected, counted by source, kind of file, column and kind
-- of reason. Grain: source x object x column_name x reason.
-- reason: the reject reason with its values replaced by '…' (quoted values first, then numbers,
--   dates and times), so rows that fail the same way count together; `pipeline-analytics rejects`
--   groups them by the same rule (sql/ops/rejects_summary.sql).
-- first_batch_id, first_line: where to find the first such row.
-- Over the files loaded by as_of (a batch's snapshot_at at or before it; a file without one
--   counts). column_name '(whole line)': a line that could not be split into fields.
with params as (
    select as_of
    from build_params
),

rejects as (
    select
        b.source,
        b.object,
        b.batch_id,
        r.source_row,
        coalesce(r.column_name, '(whole line)') as column_name,
        regexp_replace(
            regexp_replace(r.reason, '''(?:[^'']|'''')*''', '''…''', 'g'),
            '[0-9](?:[0-9:. T-]*[0-9])?', '…', 'g'
        ) as reason
    from rejected_rows as r
    inner join ingest_batches as b on r.batch_id = b.batch_id
    cross join params as p
    where
        b.status = 'loaded'
        and coalesce(b.snapshot_at <= p.as_of, true)
)

select
    source,
    object,
    column_name,
    reason,
    count(*) as rejected_rows,
    count(distinct batch_id) as files,
    min(batch_id) as first_batch_id,
    -- the first such line of that earliest file (lists compare element by element)
    min([batch_id::bigint, source_row])[2] as first_line
from rejects
group by source, object, column_name, reason
order by rejected_rows desc, source asc, object asc, column_name asc, reason asc
