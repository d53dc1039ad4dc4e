-- 014: column deals.lead_id, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/deals.sql), hence `if not exists`.
alter table deals add column if not exists lead_id varchar;
