-- run_cash_months_with_amounts: the months of run $run's cash flow with any billing, collection or
-- recognised revenue other than zero.
-- Grain: one row.
select
    count(*) filter (
        where
        coalesce(billings_mean, 0) <> 0
        or coalesce(collections_mean, 0) <> 0
        or coalesce(recognized_revenue, 0) <> 0
    ) as months_with_amounts
from forecast_cashflow
where run_id = $run
