-- run_deals_by_basis: run $run's open deals per basis (the engine's model behind each).
-- Grain: basis.
select
    basis,
    count(*) as deals
from forecast_deals
where run_id = $run and basis is not null
group by basis
