-- leads: one lead (the newest export of a lead wins); converted_deal_id links it to deals.
-- Grain: one row per source and lead_id. Columns: docs/metrics.md.
create table if not exists leads (
    source varchar,
    lead_id varchar,
    name varchar,
    company varchar,
    owner varchar,
    lead_source varchar,
    status varchar,
    created_at timestamp,
    converted_at timestamp,
    converted_deal_id varchar,
    snapshot_at timestamp,
    batch_id integer
);
