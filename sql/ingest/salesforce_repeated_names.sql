-- salesforce_repeated_names: the names that several live deals of temp table staged_deals carry
-- (deals keyed on their name), the first $listed of them by line, each with its lines and with
-- how many names repeat in all (for one warning).
-- Grain: one row per repeated name, at most $listed.
select
    name,
    list(_row order by _row) as line_numbers,
    count(*) over () as names_repeated
from staged_deals
where exclude_reason is null and name is not null
group by name
having count(*) > 1
order by min(_row)
limit $listed
