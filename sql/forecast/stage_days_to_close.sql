-- stage_days_to_close: the median days from entering a stage to winning, of the deals won from it.
-- Grain: pipeline x stage.
select
    pipeline,
    stage,
    median(days_to_close) as median_days
from int_stage_to_close
group by all
