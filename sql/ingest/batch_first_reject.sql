-- The first rejected row of a file's staged rows (temp view batch_rows), for the error that says
-- why none of its rows can be loaded. Grain: at most one row (line, reason).
select
    _row,
    reject_reason
from batch_rows
where reject_reason is not null and exclude_reason is null
order by _row
limit 1
