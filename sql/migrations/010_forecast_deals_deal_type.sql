-- 010: column forecast_deals.deal_type, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/forecast_deals.sql), hence `if not exists`.
alter table forecast_deals add column if not exists deal_type varchar;
