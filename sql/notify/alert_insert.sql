-- alert_insert: one alert found by command $run_id.
-- Grain: one row of alerts.
insert into alerts (run_id, forecast_run_id, rule, subject, fired, why, created_at)
values ($run_id, $forecast_run_id, $rule, $subject, $fired, $why, $now)
