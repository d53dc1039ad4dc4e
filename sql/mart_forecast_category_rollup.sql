-- mart_forecast_category_rollup: the reps' call per fiscal quarter, as CRMs roll it up.
-- Grain: fiscal quarter, from the one holding as_of through the next three (period_start;
-- fiscal_year named by the calendar year it ends in, fiscal_quarter 1-4, as int_kpi_windows).
-- closed_won_base: amount_base of deals won with closed_at in the quarter, by as_of.
-- commit_base, best_case_base, pipeline_base, omitted_base (and _deals): open deals at as_of whose
--   expected close date falls in the quarter, by their forecast category at as_of
--   (int_forecast_category_spans); uncategorized_base: those with no category, or one ingest did
--   not recognise.
-- The cumulative calls: commit_forecast = closed_won + commit; best_case_forecast =
--   commit_forecast + best_case; pipeline_forecast = best_case_forecast + pipeline (Omitted is in
--   none).
-- overdue_deals, overdue_base (on the as_of quarter's row only): open deals whose expected close
--   date is before that quarter; they are in no quarter's categories.
-- Portable (DuckDB and Spark).
with params as (
    select
        as_of,
        coalesce(fiscal_year_start_month, 1) as fiscal_start
    from build_params
),

current_quarter as (
    select period_start
    from int_kpi_windows
    where window_kind = 'quarter' and is_partial
),

quarter_offsets as (select unnest(generate_series(0, 3)) as n),

quarters as (
    select
        cast(cq.period_start + interval 3 month * o.n as date) as period_start,
        cast(cq.period_start + interval 3 month * (o.n + 1) as date) as period_end
    from current_quarter as cq
    cross join quarter_offsets as o
),

open_deals as (
    select
        d.source,
        d.deal_id,
        d.amount_base,
        d.expected_close_date,
        case
            when c.forecast_category in ('Pipeline', 'Best Case', 'Commit', 'Omitted')
                then c.forecast_category
        end as forecast_category
    from int_deals_as_of as d
    cross join params as p
    left join int_forecast_category_spans as c
        on
            d.source = c.source
            and d.deal_id = c.deal_id
            and p.as_of >= c.valid_from
            and p.as_of < c.valid_until
    where d.status = 'open'
),

by_quarter as (
    select
        q.period_start,
        sum(o.amount_base) filter (where o.forecast_category = 'Commit') as commit_base,
        sum(o.amount_base) filter (where o.forecast_category = 'Best Case') as best_case_base,
        sum(o.amount_base) filter (where o.forecast_category = 'Pipeline') as pipeline_base,
        sum(o.amount_base) filter (where o.forecast_category = 'Omitted') as omitted_base,
        sum(o.amount_base) filter (where o.forecast_category is null) as uncategorized_base,
        count(o.deal_id) filter (where o.forecast_category = 'Commit') as commit_deals,
        count(o.deal_id) filter (where o.forecast_category = 'Best Case') as best_case_deals,
        count(o.deal_id) filter (where o.forecast_category = 'Pipeline') as pipeline_deals,
        count(o.deal_id) filter (where o.forecast_category = 'Omitted') as omitted_deals,
        count(o.deal_id) filter (where o.forecast_category is null) as uncategorized_deals
    from quarters as q
    left join open_deals as o
        on q.period_start <= o.expected_close_date and q.period_end > o.expected_close_date
    group by q.period_start
),

won as (
    select
        q.period_start,
        sum(d.amount_base) as closed_won_base
    from quarters as q
    inner join int_deals_as_of as d
        on
            d.status = 'won'
            and d.closed_at >= cast(q.period_start as timestamp)
            and d.closed_at < cast(q.period_end as timestamp)
    group by q.period_start
),

overdue as (
    select
        cq.period_start,
        count(*) as overdue_deals,
        sum(o.amount_base) as overdue_base
    from open_deals as o
    cross join current_quarter as cq
    where o.expected_close_date < cq.period_start
    group by cq.period_start
)

select
    b.period_start,
    b.commit_deals,
    b.best_case_deals,
    b.pipeline_deals,
    b.omitted_deals,
    b.uncategorized_deals,
    ((month(b.period_start) - p.fiscal_start + 12) % 12) // 3 + 1 as fiscal_quarter,
    year(
        b.period_start
        + interval 1 month * (11 - (month(b.period_start) - p.fiscal_start + 12) % 12)
    ) as fiscal_year,
    coalesce(w.closed_won_base, 0) as closed_won_base,
    coalesce(b.commit_base, 0) as commit_base,
    coalesce(b.best_case_base, 0) as best_case_base,
    coalesce(b.pipeline_base, 0) as pipeline_base,
    coalesce(b.omitted_base, 0) as omitted_base,
    coalesce(b.uncategorized_base, 0) as uncategorized_base,
    coalesce(w.closed_won_base, 0) + coalesce(b.commit_base, 0) as commit_forecast,
    coalesce(w.closed_won_base, 0) + coalesce(b.commit_base, 0) + coalesce(b.best_case_base, 0)
        as best_case_forecast,
    coalesce(w.closed_won_base, 0) + coalesce(b.commit_base, 0) + coalesce(b.best_case_base, 0)
    + coalesce(b.pipeline_base, 0) as pipeline_forecast,
    coalesce(od.overdue_deals, 0) as overdue_deals,
    coalesce(od.overdue_base, 0) as overdue_base
from by_quarter as b
cross join params as p
left join won as w on b.period_start = w.period_start
left join overdue as od on b.period_start = od.period_start
