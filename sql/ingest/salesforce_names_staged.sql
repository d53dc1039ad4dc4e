-- salesforce_names_staged: temp table staged_names from temp view salesforce_name_reading (a
-- User.csv or Account.csv file's id, name and IsDeleted flag; see adapters/salesforce.py).
-- Grain: one row per line of the file.
create or replace temp table staged_names as
select
    _row,
    id,
    name,
    case
        when id is null then 'id is empty'
        when name is null then 'name is empty'
    end as reject_reason,
    case when id is null then 'id' when name is null then 'name' end as reject_column,
    case when deleted then 'deleted in Salesforce (IsDeleted)' end as exclude_reason
from salesforce_name_reading
