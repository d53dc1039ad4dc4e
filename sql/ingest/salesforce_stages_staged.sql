-- salesforce_stages_staged: temp table staged_stages from temp view salesforce_stage_reading (an
-- OpportunityStage file's stage, sort order, closed and won flags, default probability 0-100 and
-- whether the stage is active; see adapters/salesforce.py). Salesforce has one pipeline; an
-- inactive stage is excluded.
-- Grain: one row per line of the file.
create or replace temp table staged_stages as
select
    _row,
    'default' as pipeline,
    stage,
    sort_order,
    is_closed,
    is_won,
    default_probability,
    case when stage is null then 'stage is empty' end as reject_reason,
    case when stage is null then 'stage' end as reject_column,
    case when not active then 'inactive stage' end as exclude_reason
from salesforce_stage_reading
