-- salesforce_history_rows: temp table history_rows from temp view salesforce_history_reading (an
-- OpportunityHistory file's fields as read, typed and checked; see adapters/salesforce.py). A row
-- deleted in Salesforce is excluded, not also rejected.
-- Grain: one row per line of the file.
create or replace temp table history_rows as
select
    _row,
    deal_id,
    opportunity_name,
    stage,
    changed_at_value as changed_at,
    amount_value as amount,
    previous_amount_value as previous_amount,
    close_date_value::date as close_date,
    previous_close_date_value::date as previous_close_date,
    forecast_category,
    exclude_reason,
    case when exclude_reason is null then nullif(failures, '') end as reject_reason,
    case when exclude_reason is null then failed_column end as reject_column
from salesforce_history_reading
