-- 018: column forecast_runs.scenario (NULL for the base forecast), added after the first release.
-- A warehouse created before it gains it, NULL in its earlier rows; a newer one already
-- has it (sql/schema/forecast_runs.sql), hence `if not exists`.
alter table forecast_runs add column if not exists scenario varchar;
