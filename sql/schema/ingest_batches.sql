-- ingest_batches: one file loaded once by ingest (its source, counts and settings).
-- Grain: one row per loaded file (batch_id). Columns: docs/metrics.md.
create table if not exists ingest_batches (
    batch_id integer,
    source varchar,
    adapter varchar,
    object varchar,
    file_path varchar,
    file_sha256 varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    snapshot_at timestamp,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    rows_excluded bigint,
    settings_fingerprint varchar,
    settings_json varchar
);
