-- Deal event times after the file was loaded (temp table future_values) are flagged $flag for
-- batch $batch_id. Grain: inserts into flagged_values, one row per (line, column).
insert into flagged_values by name
select
    $batch_id::integer as batch_id,
    _row as source_row,
    deal_id,
    column_name,
    value,
    $flag::varchar as flag
from future_values
