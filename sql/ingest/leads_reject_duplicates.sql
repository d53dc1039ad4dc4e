-- leads_reject_duplicates: within one leads file a lead appears once. Of the rows sharing a
-- lead_id, the last one is kept and each earlier one is rejected, naming the line kept.
-- Grain: updates rows of temp table staged_leads (one per line of the file).
update staged_leads as s
set
    reject_reason = 'duplicate lead_id ''' || s.lead_id || ''': line '
    || d.kept_row || ' has the same id and was kept',
    reject_column = 'lead_id'
from (
    select
        lead_id,
        max(_row) as kept_row
    from staged_leads
    where reject_reason is null and exclude_reason is null
    group by lead_id
    having count(*) > 1
) as d
where
    s.lead_id = d.lead_id
    and s.reject_reason is null
    and s.exclude_reason is null
    and s._row < d.kept_row
