-- mart_pipeline_flow_window: how the open pipeline at the start of the trailing window became the
-- open pipeline at its end, all sources together: the report's pipeline-flow bridge.
-- Grain: one row.
-- The months: the month_end periods of mart_pipeline_flow ending in the trailing window
--   (as_of - lookback_days < period_end <= as_of), which cover it without gaps whatever snapshots
--   were loaded; each month's amounts are summed over the sources.
-- period_start: the first month's start (excluded); period_end: the last month's end.
-- open_start: the open pipeline at period_start (the first month's); open_end: at period_end (the
--   last month's). created, amount_up, amount_down, won, lost, pushed_out, pulled_in: summed over
--   the months, as in mart_pipeline_flow, so open_start + created + amount_up - amount_down - won
--   - lost = open_end. Amounts as DOUBLE.
-- months: the months chained; 0 (and every other column NULL) when none ends in the window.
-- Portable (DuckDB and Spark): the window as interval 1 day * lookback_days (no to_days on Spark);
--   arg_min/arg_max transpile to Spark's min_by/max_by, which agree here because open_start and
--   open_end are never NULL (DuckDB's arg_min skips a NULL value, min_by would return it).
with months as (
    select
        f.period_start,
        f.period_end,
        sum(f.open_start)::double as open_start,
        sum(f.created)::double as created,
        sum(f.won)::double as won,
        sum(f.lost)::double as lost,
        sum(f.amount_up)::double as amount_up,
        sum(f.amount_down)::double as amount_down,
        sum(f.pushed_out)::double as pushed_out,
        sum(f.pulled_in)::double as pulled_in,
        sum(f.open_end)::double as open_end
    from mart_pipeline_flow as f
    cross join build_params as bp
    where
        f.basis = 'month_end'
        and f.period_end > bp.as_of - interval 1 day * bp.lookback_days
        and f.period_end <= bp.as_of
    group by f.period_start, f.period_end
)

select
    min(period_start) as period_start,
    max(period_end) as period_end,
    arg_min(open_start, period_start) as open_start,
    sum(created) as created,
    sum(won) as won,
    sum(lost) as lost,
    sum(amount_up) as amount_up,
    sum(amount_down) as amount_down,
    sum(pushed_out) as pushed_out,
    sum(pulled_in) as pulled_in,
    arg_max(open_end, period_end) as open_end,
    count(*) as months
from months
