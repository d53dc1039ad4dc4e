-- 012: column build_params.fiscal_year_start_month, added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/build_params.sql), hence `if not exists`.
alter table build_params add column if not exists fiscal_year_start_month integer;
