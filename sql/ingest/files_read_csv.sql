-- files_read_csv: temp table csv_lines, every record of the delimited text file $path (separator
-- $delimiter, one VARCHAR column per header, named in $columns) in file order. The header is
-- parsed before, so DuckDB's sniffer is off: a truncated last line then becomes one rejected
-- line instead of an unreadable file. Lines with too many or too few fields go to temp table
-- csv_rejects (see files_csv_rejects); csv_reject_scans describes the scan.
-- Grain: one row per record read.
create or replace temp table csv_lines as
select *  -- noqa: AM04
from read_csv(
    $path,
    delim = $delimiter,
    header = true,
    auto_detect = false,
    columns = $columns,
    quote = '"',
    escape = '"',
    null_padding = false,
    store_rejects = true,
    rejects_table = 'csv_rejects',
    rejects_scan = 'csv_reject_scans',
    max_line_size = 20000000
)
