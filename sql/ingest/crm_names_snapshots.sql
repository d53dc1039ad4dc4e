-- Owner ids in a source's deal snapshots shown as names, as crm_names_deals does for deals.
-- Grain: updates deal_snapshots, one row per (source, deal_id, batch_id).
update deal_snapshots as s
set owner = u.name
from crm_names as u
where
    s.source = $source
    and u.source = $source
    and u.object = 'users'
    and left(u.id, 15) = left(s.owner, 15)
    and length(s.owner) in (15, 18)
    and (length(s.owner) = 15 or u.id = s.owner)
