-- int_kpi_windows: the time windows over which int_kpis_by_window computes the KPIs.
-- Grain: window (window_kind, window_end).
-- window_kind: 'as_of' = the trailing lookback_days ending at as_of; 'month' = one calendar month;
--   'month_trailing' = the trailing lookback_days ending at that month's end. Months run from the
--   first month with a deal created by as_of through as_of's month; month is its first day.
-- A deal closed in a window has window_start < closed_at <= window_end (start exclusive, as in
-- the lookback rule); a window's open deals are those open at window_end.
-- A month ends at its last microsecond (TIMESTAMP's resolution), or at as_of for as_of's month, so
-- a calendar month's window_start is the last microsecond of the month before.
with params as (
    select
        as_of,
        to_days(lookback_days) as lookback
    from build_params
),

months as (
    select
        unnest(generate_series(
            date_trunc('month', min(d.created_at)),
            date_trunc('month', any_value(p.as_of)),
            interval 1 month
        )) as month_start
    from int_deals_as_of as d
    cross join params as p
),

month_ends as (
    select
        m.month_start,
        least(m.month_start + interval 1 month - interval 1 microsecond, p.as_of) as month_end
    from months as m
    cross join params as p
)

select
    'as_of' as window_kind,
    null::date as month,
    as_of - lookback as window_start,
    as_of as window_end
from params

union all

select
    'month' as window_kind,
    month_start::date as month,
    month_start - interval 1 microsecond as window_start,
    month_end as window_end
from month_ends

union all

select
    'month_trailing' as window_kind,
    me.month_start::date as month,
    me.month_end - p.lookback as window_start,
    me.month_end as window_end
from month_ends as me
cross join params as p
