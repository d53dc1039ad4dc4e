-- engine_outscored: whether another method beat the engine's WAPE at every horizon of the stored
-- backtest: the horizons the engine was scored at, those where it was best, and the best method at
-- the nearest horizon.
-- Grain: one row.
with ranked as (
    select
        method,
        horizon_months,
        wape,
        row_number() over (partition by horizon_months order by wape, method) as place
    from forecast_accuracy
    where wape is not null
)

select
    count(*) filter (where method = 'engine') as engine_scored,
    count(*) filter (where method = 'engine' and place = 1) as engine_best,
    arg_min(method, horizon_months) filter (where place = 1) as nearest_best
from ranked
