-- locale_date_order_evidence: per date column of a file, its numeric dates (d/m/y or m/d/y with
-- / . or - between the parts, $numeric_date) from temp view date_values (col, v): how many, the
-- greatest first and second parts (above 12 only a day can be), an example of each and any
-- example. ISO dates (yyyy-...) cannot be day- or month-first: no pattern is tried on them.
-- Grain: one row per date column that has a numeric date.
with parts as (
    select
        col,
        v,
        regexp_extract(v, $numeric_date, ['first', 'second']) as p
    from date_values
    where v not like '____-%'
),

numbers as (
    select
        col,
        v,
        struct_extract(p, 'first') as first_part,
        try_cast(struct_extract(p, 'first') as integer) as first_number,
        try_cast(struct_extract(p, 'second') as integer) as second_number
    from parts
)

select
    col,
    count(*) as n,
    max(first_number) as max_first,
    max(second_number) as max_second,
    min(v) filter (where first_number > 12) as day_first_example,
    min(v) filter (where second_number > 12) as month_first_example,
    min(v) as example
from numbers
where first_part != ''
group by col
order by col
