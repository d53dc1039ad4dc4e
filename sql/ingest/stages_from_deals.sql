-- The stage metadata a deals file writes on every row (Salesforce Data Export's StageSortOrder
-- next to IsClosed, IsWon and Probability), as the source's stage table so far as its deals show
-- it. Reads temp table staged_deals (stage, status, probability 0-1) and temp view
-- deal_sort_orders (each line's sort order, as text).
-- Grain: one row per stage of the file; default probability is the highest seen, 0-100.
create or replace temp table staged_stages as
select
    null::bigint as _row,
    'default' as pipeline,
    d.stage,
    mode(try_cast(r.sort_order as integer)) as sort_order,
    bool_or(d.status <> 'open') as is_closed,
    bool_or(d.status = 'won') as is_won,
    round(max(d.probability) * 100, 6) as default_probability,
    null::varchar as reject_reason,
    null::varchar as reject_column,
    null::varchar as exclude_reason
from staged_deals as d
inner join deal_sort_orders as r on d._row = r._row
where d.reject_reason is null and d.stage is not null
group by d.stage
