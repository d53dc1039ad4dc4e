-- 017: column ingest_batches.settings_json, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/ingest_batches.sql), hence `if not exists`.
alter table ingest_batches add column if not exists settings_json varchar;
