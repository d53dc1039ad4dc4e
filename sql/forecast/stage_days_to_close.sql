-- stage_days_to_close: the median days from entering a stage to winning, of the deals won from it
-- by $as_of (the forecast's moment). int_stage_to_close as of an earlier moment than the build's
-- is the build's table less the deals closed after it (forecast/asof.py reads it so).
-- Grain: pipeline x stage.
select
    pipeline,
    stage,
    median(days_to_close) as median_days
from int_stage_to_close
where closed_at <= $as_of
group by all
