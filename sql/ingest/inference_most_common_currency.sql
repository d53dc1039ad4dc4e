-- inference_most_common_currency: the currency code the deals of a file name most often (ties:
-- the first code alphabetically), from temp view named_currencies (code: what each line's
-- currency column or amount names; see inference.decide_currency). Anything but a three-letter
-- code is ignored.
-- Grain: at most one row.
select
    code,
    count(*) as n
from named_currencies
where regexp_full_match(code, '[A-Z]{3}')
group by code
order by n desc, code asc
limit 1
