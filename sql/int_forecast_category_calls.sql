-- int_forecast_category_calls: the reps' calls at the start of each complete fiscal quarter, and
-- what became of them. Grain: source x deal_id x period_start.
-- A call: a deal open when the quarter began (int_deals_as_of: known_from <= period_start <
--   open_until) whose forecast category at that moment is known (int_forecast_category_spans) and
--   whose expected close date at that moment (int_close_date_spans) falls in the quarter: the
--   rep's word, given as the quarter began, on a deal due in it.
-- won_in_period: the deal was won by as_of with closed_at inside the quarter.
-- Only quarters that ended by as_of (int_kpi_windows, window_kind 'quarter', not is_partial): the
--   outcome of a quarter still running is not known yet.
-- owner, amount_base: the deal's as of as_of (int_deals_as_of); a missing owner is '(none)'.
-- Portable (DuckDB and Spark).
with quarters as (
    select
        period_start,
        cast(period_start as timestamp) as starts_at,
        window_end as ends_at
    from int_kpi_windows
    where window_kind = 'quarter' and not is_partial
),

open_at_start as (
    select
        q.period_start,
        q.starts_at,
        q.ends_at,
        d.source,
        d.deal_id,
        d.status,
        d.closed_at,
        d.amount_base,
        coalesce(d.owner, '(none)') as owner
    from quarters as q
    inner join int_deals_as_of as d
        on q.starts_at >= d.known_from and q.starts_at < d.open_until
)

select
    o.source,
    o.deal_id,
    o.owner,
    o.period_start,
    c.forecast_category,
    c.evidence,
    e.expected_close_date,
    o.amount_base,
    coalesce(o.status = 'won' and o.closed_at <= o.ends_at, false) as won_in_period
from open_at_start as o
inner join int_forecast_category_spans as c
    on
        o.source = c.source
        and o.deal_id = c.deal_id
        and o.starts_at >= c.valid_from
        and o.starts_at < c.valid_until
inner join int_close_date_spans as e
    on
        o.source = e.source
        and o.deal_id = e.deal_id
        and o.starts_at >= e.valid_from
        and o.starts_at < e.valid_until
where
    e.expected_close_date >= o.period_start
    and cast(e.expected_close_date as timestamp) <= o.ends_at
