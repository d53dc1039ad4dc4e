-- mart_forecast_category_accuracy: how the reps' calls turned out, per category, for everyone and
-- per rep. Grain: owner ('(all)' for every rep together) x forecast_category.
-- From int_forecast_category_calls (a call: a deal open as a complete fiscal quarter began, due in
--   it, in this category then): calls, calls_won (won inside that quarter), value_called,
--   value_won (amount_base), periods (quarters with a call).
-- share_won = calls_won / calls, the share of the category's calls won in their quarter ("share
--   of Commit won in its period"); value_share_won = value_won / value_called. Both NULL when
--   calls < min_calls (20): too few calls to read a share from, said by enough_calls = false.
-- Portable (DuckDB and Spark).
with calls as (
    select
        owner,
        forecast_category,
        period_start,
        amount_base,
        won_in_period
    from int_forecast_category_calls
    union all
    select
        '(all)' as owner,
        forecast_category,
        period_start,
        amount_base,
        won_in_period
    from int_forecast_category_calls
),

totals as (
    select
        owner,
        forecast_category,
        count(*) as calls,
        count(*) filter (where won_in_period) as calls_won,
        sum(amount_base) as value_called,
        coalesce(sum(amount_base) filter (where won_in_period), 0) as value_won,
        count(distinct period_start) as periods
    from calls
    group by owner, forecast_category
)

select
    owner,
    forecast_category,
    calls,
    calls_won,
    value_called,
    value_won,
    periods,
    20 as min_calls,
    calls >= 20 as enough_calls,
    case when calls >= 20 then calls_won / cast(calls as double) end as share_won,
    case
        when calls >= 20 and value_called > 0 then value_won / value_called
    end as value_share_won
from totals
