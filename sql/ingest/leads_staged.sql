-- leads_staged: temp table staged_leads from temp view lead_reading (a leads file's columns as
-- read, typed and checked; see leads.stage_leads). A lead not converted in the CRM has no
-- conversion, whatever stale values its row carries; a row excluded (deleted in the CRM) is not
-- also rejected.
-- Grain: one row per line of the file.
create or replace temp table staged_leads as
select
    _row,
    lead_id,
    name,
    company,
    owner,
    lead_source,
    status,
    created_value as created_at,
    case when converted then converted_value end as converted_at,
    case when converted then converted_deal_id end as converted_deal_id,
    case when exclude_reason is null then nullif(failures, '') end as reject_reason,
    case when exclude_reason is null then failed_column end as reject_column,
    exclude_reason
from lead_reading
