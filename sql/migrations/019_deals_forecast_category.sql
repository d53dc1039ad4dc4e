-- 019: column deals.forecast_category (the rep's call: Pipeline, Best Case, Commit, Closed,
-- Omitted), added after the first release. A warehouse created before it gains it, NULL in its
-- earlier rows; a newer one already has it (sql/schema/deals.sql), hence `if not exists`.
alter table deals add column if not exists forecast_category varchar;
