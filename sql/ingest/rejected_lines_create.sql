-- A file's rejected rows (temp view batch_rows): line, column and reason, in temp table
-- rejected_lines; a row excluded (not a live deal) is counted, never rejected.
-- Grain: one row per rejected line.
create or replace temp table rejected_lines as
select
    _row,
    reject_column,
    reject_reason
from batch_rows
where reject_reason is not null and exclude_reason is null
