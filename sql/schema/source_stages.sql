-- source_stages: the stage definitions a CRM exported itself (e.g. Salesforce OpportunityStage).
-- Grain: one row per source, pipeline and stage. Columns: docs/metrics.md.
create table if not exists source_stages (
    source varchar,
    pipeline varchar,
    stage varchar,
    sort_order integer,
    is_closed boolean,
    is_won boolean,
    default_probability double,
    batch_id integer
);
