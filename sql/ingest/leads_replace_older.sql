-- leads_replace_older: the newest export of a lead is its current state. Removes the stored rows
-- of source $source that this file (snapshot $snapshot_at) holds at least as new: the leads it
-- loads and the leads it marks deleted in the CRM. An older file changes nothing.
-- Grain: deletes rows of leads (one per source x lead_id).
delete from leads as l
using staged_leads as s
where
    l.source = $source
    and l.lead_id = s.lead_id
    and l.snapshot_at <= $snapshot_at
    and (
        (s.reject_reason is null and s.exclude_reason is null)
        or s.exclude_reason = 'deleted in the CRM'
    )
