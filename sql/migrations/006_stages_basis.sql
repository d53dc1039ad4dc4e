-- 006: column stages.basis, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/stages.sql), hence `if not exists`.
alter table stages add column if not exists basis varchar;
