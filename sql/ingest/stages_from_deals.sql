-- The stage metadata a deals file writes on every row (Salesforce Data Export's StageSortOrder
-- next to IsClosed, IsWon and Probability), as the source's stage table so far as its deals show
-- it. Reads temp view deal_stage_flags (stage, sort_order text, status, probability 0-1).
-- Grain: one row per stage of the file; default probability is the highest seen, 0-100.
create or replace temp table staged_stages as
select
    null::bigint as _row,
    'default' as pipeline,
    stage,
    mode(try_cast(sort_order as integer)) as sort_order,
    bool_or(status <> 'open') as is_closed,
    bool_or(status = 'won') as is_won,
    round(max(probability) * 100, 6) as default_probability,
    null::varchar as reject_reason,
    null::varchar as reject_column,
    null::varchar as exclude_reason
from deal_stage_flags
where stage is not null
group by stage
