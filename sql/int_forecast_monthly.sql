-- int_forecast_monthly: the monthly series the forecast's time-series models read, as of as_of.
-- Grain: calendar month, from the month of the first deal known (int_deals_as_of.known_from)
--   through as_of's month, like the months of mart_kpis_monthly.
-- created_pipeline_base: amount_base of the deals created in the month (a deal without a
--   creation date counts in no month); won_amount_base:
--   amount_base of the deals won in the month (by closed_at). Both as in mart_kpis_monthly, which
--   they equal (a test checks it); this model exists so that rebuilding the forecast's inputs at a
--   past moment does not rebuild every KPI window.
-- is_complete: the month ended by as_of (the month holding as_of is still running).
-- Amounts are summed as DECIMAL: exact whatever order DuckDB adds them in, so the same deals
--   always give the same series (and the same forecast for the same seed).
-- Portable (DuckDB and Spark): a deal known since "always" has known_from 1900-01-01 (no infinite
--   timestamps on Spark), left out by a comparison instead of isfinite(); unnest(generate_series())
--   transpiles to Spark's explode(sequence()), the same months (cast to DATE in a CTE of its own:
--   Spark takes no generator inside an expression).
with bounds as (
    select
        date_trunc(
            'month', min(d.known_from) filter (where d.known_from > timestamp '1900-01-01 00:00:00')
        )::date as first_month,
        date_trunc('month', any_value(bp.as_of))::date as last_month,
        any_value(bp.as_of) as as_of
    from int_deals_as_of as d
    cross join build_params as bp
),

month_starts as (
    select
        b.as_of,
        unnest(generate_series(b.first_month, b.last_month, interval 1 month)) as month_start
    from bounds as b
),

months as (
    select
        as_of,
        month_start::date as month
    from month_starts
),

created as (
    select
        date_trunc('month', created_at)::date as month,
        sum(amount_base::decimal(38, 6))::double as created_pipeline_base
    from int_deals_as_of
    where created_at is not null
    group by date_trunc('month', created_at)::date
),

won as (
    select
        date_trunc('month', closed_at)::date as month,
        sum(amount_base::decimal(38, 6))::double as won_amount_base
    from int_deals_as_of
    where status = 'won' and closed_at is not null
    group by date_trunc('month', closed_at)::date
)

select
    m.month,
    coalesce(c.created_pipeline_base, 0) as created_pipeline_base,
    coalesce(w.won_amount_base, 0) as won_amount_base,
    m.month + interval 1 month <= m.as_of as is_complete
from months as m
left join created as c on m.month = c.month
left join won as w on m.month = w.month
order by m.month
