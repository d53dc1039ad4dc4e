-- deals: the current state of every deal, from the newest export that contained it.
-- Grain: one row per source and deal_id. Columns: docs/metrics.md.
create table if not exists deals (
    source varchar,
    deal_id varchar,
    name varchar,
    account varchar,
    owner varchar,
    pipeline varchar,
    lead_source varchar,
    deal_type varchar,
    stage varchar,
    stage_order integer,
    status varchar,
    amount double,
    currency varchar,
    amount_base double,
    probability double,
    created_at timestamp,
    closed_at timestamp,
    expected_close_date date,
    snapshot_at timestamp,
    batch_id integer,
    stage_changed_at timestamp,
    activity_count integer,
    segment varchar,
    amount_company_currency double,
    lead_id varchar
);
