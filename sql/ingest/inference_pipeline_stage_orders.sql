-- inference_pipeline_stage_orders: each pipeline's open stages in the order temp table
-- open_stage_order gives them, with the basis that decided it.
-- Grain: one row per pipeline.
select
    pipeline,
    list(stage order by stage_order) as ordered_stages,
    any_value(basis) as basis
from open_stage_order
group by pipeline
order by pipeline
