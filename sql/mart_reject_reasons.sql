-- mart_reject_reasons: the input rows ingest rejected, by column and kind of reason, over every
-- source and kind of file (mart_rejects summed): the report's table of rejected rows.
-- Grain: column_name x reason.
-- column_name, reason: as in mart_rejects (the reason with its values replaced by '…').
-- rejected_rows: rows rejected so; files: files (batches) with such a row.
select
    column_name,
    reason,
    sum(rejected_rows)::bigint as rejected_rows,
    sum(files)::bigint as files
from mart_rejects
group by column_name, reason
order by rejected_rows desc, column_name asc, reason asc
