-- activities: one activity (call, email, meeting...) logged against a deal.
-- Grain: one row per activity. Columns: docs/metrics.md.
create table if not exists activities (
    source varchar,
    deal_id varchar,
    activity_type varchar,
    occurred_at timestamp,
    owner varchar
);
