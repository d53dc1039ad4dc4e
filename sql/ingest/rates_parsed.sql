-- The rates file's lines (temp view rate_values, all checked by rates_first_bad) as rates.
-- Grain: one row per line: currency, valid_from, rate_to_base.
select  -- noqa: ST06
    upper(currency_text) as currency,
    valid_from::date as valid_from,
    rate as rate_to_base
from rate_values
order by 1, 2
