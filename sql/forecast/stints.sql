-- stints: the stints of past deals the engine learns stage outcomes from.
-- Grain: stint of a deal in a stage (int_forecast_stints).
select
    pipeline,
    stage,
    stint_days,
    age_at_as_of,
    outcome,
    days_to_close
from int_forecast_stints
