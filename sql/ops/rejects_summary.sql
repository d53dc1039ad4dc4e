-- rejects_summary: the rejected rows per file (of batch $batch_id, or every batch when NULL), by
-- column and kind of reason. A reason's kind is its text with the values replaced by `…`: quoted
-- values ('31/02/2024', with '' inside) first, then numbers, dates and times (line 7,
-- 2094-01-01 00:00:00); mart_rejects uses the same rule.
-- Grain: batch x column_name x reason kind.
select
    b.batch_id,
    b.source,
    b.object,
    b.file_path,
    b.rows_read,
    b.rows_rejected,
    coalesce(r.column_name, '(whole line)') as column_name,
    regexp_replace(
        regexp_replace(r.reason, '''(?:[^'']|'''')*''', '''…''', 'g'),
        '[0-9](?:[0-9:. T-]*[0-9])?', '…', 'g'
    ) as reason,  -- noqa: RF04
    count(*) as reject_count,
    min(r.source_row) as first_line
from rejected_rows as r
inner join ingest_batches as b on r.batch_id = b.batch_id
where $batch_id is null or b.batch_id = $batch_id  -- noqa: RF02
group by all
order by b.batch_id asc, reject_count desc, column_name asc, reason asc
