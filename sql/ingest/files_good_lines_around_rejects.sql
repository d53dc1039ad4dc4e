-- files_good_lines_around_rejects: temp table good_lines, the lines 2 to $last_line of a file
-- with one physical line per record, without the $rejected ones, in order: the k-th record read
-- is on the k-th of them.
-- Grain: one row per line of a record read.
create or replace temp table good_lines as
select r.line
from range(2, $last_line + 1) as r (line)
where not list_contains($rejected::bigint[], r.line)
order by r.line
