-- alerts_delivered: a digest reached every channel: its alerts, and older undelivered ones it
-- carried or superseded, are delivered at $now.
-- Grain: updates alerts.
update alerts
set delivered_at = $now
where delivered_at is null
