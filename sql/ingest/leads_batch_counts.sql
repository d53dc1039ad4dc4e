-- leads_batch_counts: what temp table staged_leads makes of its file, for the batch row: rows
-- rejected, rows excluded, and the export's moment (the latest creation or conversion of a good
-- row). Grain: one row.
select
    count(*) filter (where reject_reason is not null) as rejected,
    count(*) filter (where exclude_reason is not null) as excluded,
    max(greatest(created_at, converted_at)) filter (where reject_reason is null) as snapshot_at
from staged_leads
