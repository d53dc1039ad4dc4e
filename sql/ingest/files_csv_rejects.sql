-- files_csv_rejects: the lines the CSV reader rejected (temp table csv_rejects, see
-- files_read_csv), with the first error of each and the raw line.
-- Grain: one row per rejected line, in line order.
select
    line,
    min(error_type) as error_type,
    min(error_message) as error_message,
    min(csv_line) as raw_line
from csv_rejects
group by line
order by line
