-- Deal event times of temp table staged_deals later than $latest_allowed (the load moment plus
-- a day for time zones): a typo (2094) or a placeholder, kept in temp table future_values for
-- flagged_values. An expected close date is a plan, not an event: not checked.
-- Grain: one row per (line, column) of a good staged row.
create or replace temp table future_values as
select
    _row,
    deal_id,
    'created_at' as column_name,
    created_at::varchar as value  -- noqa: RF04
from staged_deals
where created_at > $latest_allowed and reject_reason is null and exclude_reason is null
union all
select
    _row,
    deal_id,
    'closed_at' as column_name,
    closed_at::varchar as value  -- noqa: RF04
from staged_deals
where closed_at > $latest_allowed and reject_reason is null and exclude_reason is null
union all
select
    _row,
    deal_id,
    'stage_changed_at' as column_name,
    stage_changed_at::varchar as value  -- noqa: RF04
from staged_deals
where stage_changed_at > $latest_allowed and reject_reason is null and exclude_reason is null
union all
select
    _row,
    deal_id,
    'updated_at' as column_name,
    updated_at::varchar as value  -- noqa: RF04
from staged_deals
where updated_at > $latest_allowed and reject_reason is null and exclude_reason is null
