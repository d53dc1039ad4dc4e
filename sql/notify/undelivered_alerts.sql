-- undelivered_alerts: alerts no digest has delivered yet (a send failed), oldest first.
-- Grain: one row per alert.
select
    run_id,
    forecast_run_id,
    rule,
    subject,
    fired,
    why,
    created_at
from alerts
where delivered_at is null
order by created_at asc, run_id asc, rule asc, subject asc
