-- quarter_outlook: the (fiscal) quarter starting at $quarter_start as run $run sums it from its
-- monthly means: what was booked in it (mart_kpis_monthly), before as_of's month ($as_of), in the
-- quarter before, and the mean of the run's $components over the quarter's months.
-- Grain: one row.
with q as (
    select
        $quarter_start::date as quarter_start,
        ($quarter_start::date + interval 3 month)::date as quarter_end,
        date_trunc('month', $as_of::timestamp)::date as as_of_month
),

facts as (
    select
        coalesce(sum(m.won_amount_base) filter (
            where m.month >= q.quarter_start and m.month < q.quarter_end
        ), 0) as won_to_date,
        coalesce(sum(m.won_amount_base) filter (
            where m.month >= q.quarter_start and m.month < q.as_of_month
        ), 0) as won_before_as_of_month,
        coalesce(sum(m.won_amount_base) filter (
            where m.month >= q.quarter_start - interval 3 month and m.month < q.quarter_start
        ), 0) as previous_quarter_won
    from mart_kpis_monthly as m
    cross join q
),

forecast as (
    select
        coalesce(sum(b.mean), 0) as forecast_mean,
        count(distinct b.month) as months_forecast
    from forecast_bookings as b
    cross join q
    where
        b.run_id = $run  -- noqa: RF02
        and list_contains($components, b.component)  -- noqa: RF02
        and b.month >= q.quarter_start
        and b.month < q.quarter_end
)

select
    f.*,
    q.quarter_start,
    fc.forecast_mean,
    fc.months_forecast,
    -- the quarter's months from as_of's month on: the ones a forecast must cover
    datediff('month', greatest(q.quarter_start, q.as_of_month), q.quarter_end) as months_ahead
from q cross join facts as f cross join forecast as fc
