-- mart_slippage_periods: the deals pushed out of each fiscal quarter. Grain: fiscal quarter
-- (period_start; fiscal_year, fiscal_quarter as int_kpi_windows) that lost at least one deal to
-- a later quarter.
-- From int_close_date_moves with out_of_period (a move, while the deal was open, of its expected
--   close date from this quarter into a later one): deals_pushed_out (distinct deals),
--   pushes_out (moves), value_pushed_out_base (amount_base as of as_of of those deals, each once),
--   avg_days_pushed (mean days_moved of those moves).
-- Portable (DuckDB and Spark).
with params as (
    select coalesce(fiscal_year_start_month, 1) as fiscal_start
    from build_params
),

pushed_out as (
    select
        m.old_period_start as period_start,
        m.source,
        m.deal_id,
        m.days_moved
    from int_close_date_moves as m
    where m.out_of_period
),

deal_values as (
    select distinct
        p.period_start,
        p.source,
        p.deal_id,
        d.amount_base
    from pushed_out as p
    inner join int_deals_as_of as d
        on p.source = d.source and p.deal_id = d.deal_id
),

moves as (
    select
        period_start,
        count(*) as pushes_out,
        avg(days_moved) as avg_days_pushed
    from pushed_out
    group by period_start
),

deals_out as (
    select
        period_start,
        count(*) as deals_pushed_out,
        coalesce(sum(amount_base), 0) as value_pushed_out_base
    from deal_values
    group by period_start
)

select
    m.period_start,
    d.deals_pushed_out,
    m.pushes_out,
    d.value_pushed_out_base,
    m.avg_days_pushed,
    ((month(m.period_start) - p.fiscal_start + 12) % 12) // 3 + 1 as fiscal_quarter,
    year(
        m.period_start
        + interval 1 month * (11 - (month(m.period_start) - p.fiscal_start + 12) % 12)
    ) as fiscal_year
from moves as m
cross join params as p
inner join deals_out as d on m.period_start = d.period_start
