-- A file's rejected rows (temp table rejected_lines) with their line, column, reason and raw
-- record as JSON (temp view raw_records, long values cut), for batch $batch_id.
-- Grain: inserts into rejected_rows, one row per rejected line.
insert into rejected_rows by name
select
    $batch_id::integer as batch_id,  -- noqa: RF02
    s._row as source_row,
    any_value(s.reject_column) as column_name,
    any_value(s.reject_reason) as reason,
    any_value(r.raw_record) as raw_record
from rejected_lines as s
inner join raw_records as r on s._row = r._row
group by s._row
