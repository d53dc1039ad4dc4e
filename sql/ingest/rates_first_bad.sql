-- The first line of the rates file (temp view rate_values) that is not a 3-letter currency code,
-- a finite date and a positive number, for the error. Grain: at most one row.
select
    _row,
    currency_text,
    valid_from_text,
    rate_text
from rate_values
where
    not coalesce(regexp_full_match(currency_text, '[A-Za-z]{3}'), false)
    or not coalesce(isfinite(valid_from), false)
    or not coalesce(isfinite(rate) and rate > 0, false)
order by _row
limit 1
