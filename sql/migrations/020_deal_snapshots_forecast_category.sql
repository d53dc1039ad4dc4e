-- 020: column deal_snapshots.forecast_category, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/deal_snapshots.sql), hence `if not exists`.
alter table deal_snapshots add column if not exists forecast_category varchar;
