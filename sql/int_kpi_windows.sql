-- int_kpi_windows: the time windows over which int_kpis_by_window computes the KPIs.
-- Grain: window (window_kind, window_end).
-- window_kind: 'as_of' = the trailing lookback_days ending at as_of; 'month', 'quarter', 'year' =
--   one calendar month, fiscal quarter or fiscal year; 'month_trailing' = the trailing
--   lookback_days ending at a month's end (window_end equals that month's window_end).
-- Fiscal periods start at build_params.fiscal_year_start_month (NULL or 1 = January).
--   fiscal_year is named after the calendar year in which it ends (with a February start,
--   February 2024 to January 2025 is fiscal year 2025); fiscal_quarter 1-4 counts from its start.
-- Periods run from the one holding the first deal known by as_of (int_deals_as_of.known_from: its
--   creation, else its first stage change or export) through the one holding as_of;
--   period_start is the period's first day. A period ends at its last microsecond (TIMESTAMP's
--   resolution), or at as_of when as_of falls inside it (is_partial); window_start is the
--   microsecond before period_start.
-- A deal closed (or created) in a window has window_start < closed_at <= window_end, start
-- exclusive as in the lookback rule; a window's open deals are those open at window_end.
-- Portable (DuckDB and Spark): intervals as interval 1 day / 1 month * n (no to_days/to_months on
--   Spark); a deal known since "always" has known_from 1900-01-01, left out by a comparison
--   instead of isfinite(); unnest(generate_series()) transpiles to explode(sequence()).
with params as (
    select
        as_of,
        interval 1 day * lookback_days as lookback,
        coalesce(fiscal_year_start_month, 1) as fiscal_start
    from build_params
),

months as (
    select
        unnest(generate_series(
            date_trunc(
                'month',
                min(d.known_from) filter (where d.known_from > timestamp '1900-01-01 00:00:00')
            ),
            date_trunc('month', any_value(p.as_of)),
            interval 1 month
        )) as month_start
    from int_deals_as_of as d
    cross join params as p
),

fiscal_months as (
    select
        m.month_start::date as month_start,
        (month(m.month_start) - p.fiscal_start + 12) % 12 as months_into_year
    from months as m
    cross join params as p
),

periods as (
    select
        'month' as window_kind,
        month_start as period_start,
        1 as period_months,
        months_into_year
    from fiscal_months

    union

    select
        'quarter' as window_kind,
        (month_start - interval 1 month * (months_into_year % 3))::date as period_start,
        3 as period_months,
        months_into_year - months_into_year % 3 as months_into_year
    from fiscal_months

    union

    select
        'year' as window_kind,
        (month_start - interval 1 month * months_into_year)::date as period_start,
        12 as period_months,
        0 as months_into_year
    from fiscal_months
),

period_windows as (
    select
        pe.window_kind,
        pe.period_start,
        year(pe.period_start + interval 1 month * (11 - pe.months_into_year)) as fiscal_year,
        pe.months_into_year // 3 + 1 as fiscal_quarter,
        pe.period_start - interval 1 microsecond as window_start,
        least(
            pe.period_start + interval 1 month * pe.period_months - interval 1 microsecond, p.as_of
        ) as window_end,
        pe.period_start + interval 1 month * pe.period_months - interval 1 microsecond
        > p.as_of as is_partial
    from periods as pe
    cross join params as p
)

select
    'as_of' as window_kind,
    null::date as period_start,
    null::bigint as fiscal_year,
    null::bigint as fiscal_quarter,
    as_of - lookback as window_start,
    as_of as window_end,
    null::boolean as is_partial
from params

union all

select
    window_kind,
    period_start,
    fiscal_year,
    fiscal_quarter,
    window_start,
    window_end,
    is_partial
from period_windows

union all

select
    'month_trailing' as window_kind,
    pw.period_start,
    pw.fiscal_year,
    pw.fiscal_quarter,
    pw.window_end - p.lookback as window_start,
    pw.window_end,
    pw.is_partial
from period_windows as pw
cross join params as p
where pw.window_kind = 'month'
