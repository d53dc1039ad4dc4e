-- build_latest_snapshot: what the default as_of needs: how many deals the warehouse holds, and the
-- latest snapshot_at of every loaded batch of every kind (deals, stage history, activities).
-- Grain: one row (deals, latest_snapshot_at).
select
    (select count(*) from deals) as deals,
    (
        select max(snapshot_at)
        from ingest_batches
        where status = 'loaded'
    ) as latest_snapshot_at;
