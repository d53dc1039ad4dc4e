-- notifications: each attempt to send a digest, per channel ('email' or 'webhook'), with its
-- outcome ('sent' or 'failed', error: the failure's one line); a failed digest is sent again by
-- the next run.
-- Grain: one row per command and channel. Columns: docs/metrics.md.
create table if not exists notifications (
    run_id integer,
    channel varchar,
    attempted_at timestamp,
    status varchar,
    subject varchar,
    alerts integer,
    error varchar
);
