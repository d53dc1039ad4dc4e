-- alerts: what a digest's alert rules found (sql/notify/alert_*.sql), in plain words.
-- run_id is the command (runs) that found it; forecast_run_id the base forecast run it read;
-- delivered_at is NULL until a digest carrying it reached every configured channel (an alert
-- not delivered is sent again with the next digest).
-- Grain: one row per command, rule and subject. Columns: docs/metrics.md.
create table if not exists alerts (
    run_id integer,
    forecast_run_id integer,
    rule varchar,
    subject varchar,
    fired varchar,
    why varchar,
    created_at timestamp,
    delivered_at timestamp
);
