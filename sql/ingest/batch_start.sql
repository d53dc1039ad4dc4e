-- A file's batch begins: status 'loading' until batch_finish marks it loaded in the same
-- transaction. Grain: inserts one row into ingest_batches.
insert into ingest_batches (
    batch_id, source, adapter, object, file_path, file_sha256, snapshot_at, started_at, status,
    settings_fingerprint, settings_json
)
values (
    $batch_id, $source, $adapter, $object, $file_path, $file_sha256, $snapshot_at, $started_at,
    'loading', $settings_fingerprint, $settings_json
)
