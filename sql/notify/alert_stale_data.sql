-- alert_stale_data: the newest loaded export's snapshot when it is older than $stale_after_days
-- days at $now (naive UTC), as `status` warns; no row when fresh or when nothing is loaded.
-- Grain: one row or none.
with newest as (
    select max(snapshot_at) as snapshot_at
    from ingest_batches
    where status = 'loaded'
),

aged as (
    select
        snapshot_at,
        date_diff('second', snapshot_at, $now::timestamp) / 86400.0 as age_days
    from newest
    where snapshot_at is not null
)

select
    snapshot_at,
    age_days
from aged
where age_days > $stale_after_days
