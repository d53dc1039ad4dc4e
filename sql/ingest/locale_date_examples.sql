-- locale_date_examples: per date column of a file (temp view date_values: col, _row, v), its
-- values grouped by shape (length, leading digit, ISO start, separators), the $max_groups
-- largest groups, each with three values to try the date layouts on: its first line's, its least
-- and its greatest, with their lines.
-- Grain: three rows per shape group of a date column.
with grouped as (
    select
        col,
        count(*) as n,
        min(_row) as first_line,
        arg_min(v, _row) as first_value,
        arg_min(_row, v) as low_line,
        min(v) as low_value,
        arg_max(_row, v) as high_line,
        max(v) as high_value
    from date_values
    where v is not null
    group by
        col,
        length(v),
        ascii(v) between 48 and 57,
        v like '____-%',
        contains(v, ':'),
        contains(v, ','),
        contains(v, '/'),
        contains(v, '.'),
        contains(v, ' ')
    qualify row_number() over (partition by col order by count(*) desc) <= $max_groups
),

numbered as (
    select
        *,
        row_number() over () as grp
    from grouped
)

select
    col,
    grp,
    n,
    unnest([first_line, low_line, high_line]) as example_line,
    unnest([first_value, low_value, high_value]) as example_value
from numbered
