-- Within one file a deal appears once: earlier rows of a repeated deal_id in temp table
-- staged_deals are rejected, naming the line that was kept (the last).
-- Grain: updates staged_deals, one row per rejected line.
update staged_deals as s
set
    reject_reason = 'duplicate deal_id ''' || s.deal_id || ''': line '
    || d.kept_row || ' has the same id and was kept',
    reject_column = 'deal_id'
from (
    select
        deal_id,
        max(_row) as kept_row
    from staged_deals
    where reject_reason is null and exclude_reason is null
    group by deal_id
    having count(*) > 1
) as d
where
    s.deal_id = d.deal_id
    and s.reject_reason is null
    and s.exclude_reason is null
    and s._row < d.kept_row
