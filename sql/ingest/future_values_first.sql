-- The first deal event time after the file was loaded (temp table future_values) and how many
-- there are, for the warning. Grain: at most one row.
select
    _row,
    column_name,
    value,
    count(*) over () as found
from future_values
order by _row, column_name
limit 1
