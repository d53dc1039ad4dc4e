-- One pass over a file's staged rows (temp view batch_rows): rows excluded, rows rejected, and
-- the latest event of the rows that count (a deletion is an event too). Rows an adapter derives,
-- like a flow's stage at creation, carry no reasons: not counted.
-- Grain: one row for the file.
select
    count(*) filter (where exclude_reason is not null) as excluded,
    count(*) filter (
        where reject_reason is not null and exclude_reason is null
    ) as rejected,
    max(latest_event) filter (
        where reject_reason is null or exclude_reason is not null
    ) as latest_event
from batch_rows
