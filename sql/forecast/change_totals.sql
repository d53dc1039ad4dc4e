-- change_totals: the deals that moved run $run's expected value since the previous run, and by
-- how much, per kind of change (new, pushed, pulled, amount, updated, won, lost, removed).
-- Grain: change.
select
    change,
    count(*) as deals,
    sum(delta_base) as delta,
    any_value(previous_run_id) as previous
from forecast_changes
where run_id = $run
group by change
order by
    case change
        when 'new' then 1 when 'pushed' then 2 when 'pulled' then 3 when 'amount' then 4
        when 'updated' then 5 when 'won' then 6 when 'lost' then 7 else 8
    end,
    change
