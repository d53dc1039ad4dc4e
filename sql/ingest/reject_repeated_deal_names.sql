-- Deals keyed on their name (a Salesforce export with no Id column): rows whose name another
-- row of the file also has are rejected, since the name cannot tell the deals apart. The reason
-- names the other line (the first one, or the second for the first line) and how to fix it.
-- Grain: updates staged_deals, one row per input line; rows already rejected or excluded stay.
update staged_deals as s
set
    reject_reason = 'deal name ''' || s.deal_id || ''' is also on line '
    || case when s._row = r.line_numbers[1] then r.line_numbers[2] else r.line_numbers[1] end
    || ': with no Id column deals are keyed on their name, and two rows with one name cannot '
    || 'be told apart; add the Id column to the export (Data Loader: select Id) to load them',
    reject_column = 'name'
from (
    select
        deal_id,
        list(_row order by _row) as line_numbers
    from staged_deals
    where reject_reason is null and exclude_reason is null
    group by deal_id
    having count(*) > 1
) as r
where
    s.deal_id = r.deal_id
    and s.reject_reason is null
    and s.exclude_reason is null
