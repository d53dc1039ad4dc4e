-- activities_batch_counts: what temp table staged_activities makes of its file, for the batch
-- row: rows rejected, and the export's moment (the latest activity of a good row).
-- Grain: one row.
select
    count(*) filter (where reject_reason is not null) as rejected,
    max(occurred_at) filter (where reject_reason is null) as snapshot_at
from staged_activities
