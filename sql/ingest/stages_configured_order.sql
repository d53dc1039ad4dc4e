-- The configured open stages ($stages, in funnel order) for every pipeline the deals show (or
-- 'default' when there are no deals yet), in temp table open_stage_order with basis 'config'.
-- Grain: one row per (pipeline, stage).
create or replace temp table open_stage_order as
with pipelines as (
    select distinct pipeline from deals
    union
    select 'default' as pipeline
    where not exists (select 1 from deals)
),

configured_order as (
    select
        unnest($stages::varchar[]) as stage,
        generate_subscripts($stages::varchar[], 1) as stage_order
)

select
    p.pipeline,
    o.stage,
    o.stage_order::integer as stage_order,
    'config' as basis
from pipelines as p
cross join configured_order as o
