-- locale_decimal_evidence: how many of a file's number values can only mean a decimal comma, and
-- how many only a decimal point, each with an example, from temp view number_values (v: every
-- value of every number column of the file). A plain number read by a cast ('1234.5') is a
-- decimal point unless it could be a thousands group ('1.234'); only decorated values
-- ('1.234,56', '$ 1,234', '$342.09K') go through the patterns, after the thousands suffix
-- ($amount_suffix) and currency codes, symbols and spaces ($noise) are removed.
-- Grain: one row.
with read_values as (
    select
        v,
        try_cast(v as double) is not null as is_plain
    from number_values
    where v is not null
),

cleaned as (
    select
        v,
        is_plain,
        case
            when not is_plain
                then regexp_replace(
                    regexp_replace(v, $amount_suffix, '\1\3', 'i'), $noise, '', 'g'
                )
        end as c,
        ltrim(split_part(v, '.', 1), '-') as whole,
        split_part(v, '.', 2) as fraction
    from read_values
),

evidence as (
    select
        v,
        not is_plain and regexp_full_match(c, $comma_decimal) as comma,
        (
            is_plain
            and contains(v, '.')
            and not (length(fraction) = 3 and length(whole) between 1 and 3 and whole != '0')
        )
        or (not is_plain and regexp_full_match(c, $dot_decimal)) as dot
    from cleaned
)

select
    count(*) filter (where comma) as comma_values,
    min(v) filter (where comma) as comma_example,
    count(*) filter (where dot) as dot_values,
    min(v) filter (where dot) as dot_example
from evidence
