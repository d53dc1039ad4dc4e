-- common_field_change_rows: temp table change_rows from temp view field_change_reading (a log
-- of field changes as a CRM exports it, Salesforce OpportunityFieldHistory or Pipedrive's deal
-- flow: deal, tracked field kind, old and new value as text, change time, typed and checked; see
-- adapters/common.py). A row of an untracked field or of a deleted deal is excluded, not also
-- rejected.
-- Grain: one row per line of the file.
create or replace temp table change_rows as
select
    _row,
    deal_id,
    field_kind,
    old_text,
    new_text,
    changed_at_value as changed_at,
    exclude_reason,
    case when exclude_reason is null then nullif(failures, '') end as reject_reason,
    case when exclude_reason is null then failed_column end as reject_column
from field_change_reading
