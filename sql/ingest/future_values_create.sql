-- Deal event times of temp table staged_deals later than $latest_allowed (the load moment plus
-- a day for time zones): a typo (2094) or a placeholder, kept in temp table future_values for
-- flagged_values. An expected close date is a plan, not an event: not checked.
-- Grain: one row per (line, column) of a good staged row.
create or replace temp table future_values as
select
    _row,
    deal_id,
    column_name,
    event_at::varchar as value  -- noqa: RF04
from (
    unpivot (
        select
            _row,
            deal_id,
            created_at,
            closed_at,
            stage_changed_at,
            updated_at
        from staged_deals
        where reject_reason is null and exclude_reason is null
    )
    on created_at, closed_at, stage_changed_at, updated_at
    into name column_name value event_at
)
where event_at > $latest_allowed
