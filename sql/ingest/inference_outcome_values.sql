-- inference_outcome_values: the distinct values of a deals file's status column (or stage), from
-- temp view outcome_values (v), lower-cased with one spelling as the file writes it, to look up
-- the words that mean won or lost (aliases/outcomes.toml).
-- Grain: one row per distinct lower-cased value, at most 5000.
select
    lower(v) as value_lower,
    min(v) as value_shown
from outcome_values
where v is not null
group by lower(v)
order by value_lower
limit 5000
