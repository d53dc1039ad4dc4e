-- notification_insert: one attempt to send a digest over one channel, and how it went.
-- Grain: one row of notifications.
insert into notifications (run_id, channel, attempted_at, status, subject, alerts, error)
values ($run_id, $channel, $now, $status, $subject, $alerts, $error)
