-- stages: the stages of every pipeline: order, won or lost, default probability, and how each
-- was decided (basis: config, the CRM's stage table, the history...).
-- Grain: one row per pipeline and stage. Columns: docs/metrics.md.
create table if not exists stages (
    pipeline varchar,
    stage varchar,
    stage_order integer,
    is_won boolean,
    is_lost boolean,
    default_probability double,
    basis varchar
);
