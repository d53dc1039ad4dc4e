-- 003: column stage_changes.origin, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/stage_changes.sql), hence `if not exists`.
alter table stage_changes add column if not exists origin varchar;
