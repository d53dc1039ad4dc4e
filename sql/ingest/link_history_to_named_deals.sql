-- History rows keyed on an opportunity name that several of the source's deals carry: each row
-- links to a deal of that name open at the row's time (created at or before it, not closed more
-- than a day before it: a close date has no time of day); among those, first one whose amount
-- and close date are the row's (two deals of one name open at once), then the one created last;
-- else to the one created last at or before the row's time; when none was created by then, to
-- the earliest one (deals with no creation date after the others, then by key, so the choice
-- does not depend on the order of rows).
-- Grain: updates history_rows, one row per input line; rejected and excluded rows stay.
update history_rows as h
set deal_id = c.deal_id
from (
    select
        r._row,
        n.deal_id,
        row_number() over (
            partition by r._row
            order by
                n.created_at <= r.changed_at
                and (n.closed_at is null or r.changed_at < n.closed_at + interval 1 day) desc,
                coalesce(r.amount = n.amount, false)::integer
                + coalesce(r.close_date = n.close_date, false)::integer desc,
                case when n.created_at <= r.changed_at then n.created_at end desc nulls last,
                n.created_at asc nulls last,
                n.deal_id asc
        ) as preference
    from history_rows as r
    inner join deal_ids_by_name as n on r.opportunity_name = n.name
    where
        n.deals > 1
        and r.reject_reason is null
        and r.exclude_reason is null
) as c
where h._row = c._row and c.preference = 1
