-- Batches of source $source loaded before settings were recorded are taken as read with the
-- current settings ($settings_json and its $settings_fingerprint).
-- Grain: updates ingest_batches, one row per such batch.
update ingest_batches
set
    settings_fingerprint = $settings_fingerprint,
    settings_json = $settings_json
where source = $source and settings_fingerprint is null
