-- mart_stage_velocity: throughput per open stage over the trailing window, next to conversion.
-- Grain: pipeline x open stage. The window is that of mart_kpis: as_of - lookback_days (exclusive)
-- to as_of; weeks = lookback_days / 7.
-- entries: stints that began in the window (a deal re-entering the stage counts again: it is work
--   arriving at the stage again); exits: stints that ended in it, by moving on, falling back or
--   closing. entries_per_week, exits_per_week = entries / weeks, exits / weeks;
--   net_per_week = entries_per_week - exits_per_week (above 0: deals pile up in the stage).
-- median_days: median length of the stints that ended in the window, per stint (unlike
--   mart_stage_duration, which sums a deal's stints over all time).
-- open_deals: deals open in the stage at as_of (int_open_deal_stage).
-- conversion_rate: from mart_stage_conversion.
-- Portable (DuckDB and Spark): the window as interval 1 day * lookback_days (no to_days on Spark);
--   weeks as a DOUBLE (lookback_days / 7.0 is a DECIMAL on Spark, rounded when divided); a stint's
--   days computed in a CTE before the median (inside quantile_cont the epoch correction of the
--   Spark transpiler is not applied).
with params as (
    select
        as_of,
        as_of - interval 1 day * lookback_days as window_start,
        lookback_days::double / 7 as weeks
    from build_params
),

stints as (
    select
        pipeline,
        stage,
        entered_at,
        exited_at,
        (epoch(exited_at) - epoch(entered_at)) / 86400.0 as stint_days
    from deal_stage_events
    where stage_order is not null
),

stint_flows as (
    select
        e.pipeline,
        e.stage,
        count(*) filter (
            where e.entered_at > p.window_start and e.entered_at <= p.as_of
        ) as entries,
        count(*) filter (where e.exited_at > p.window_start and e.exited_at <= p.as_of) as exits,
        quantile_cont(e.stint_days, 0.5) filter (
            where
            e.exited_at > p.window_start
            and e.exited_at <= p.as_of
            and e.exited_at >= e.entered_at
        ) as median_days
    from stints as e
    cross join params as p
    group by e.pipeline, e.stage
),

open_in_stage as (
    select
        pipeline,
        stage,
        count(*) as open_deals
    from int_open_deal_stage
    where stage_order is not null
    group by pipeline, stage
),

stage_velocity as (
    select
        sc.pipeline,
        sc.stage,
        sc.stage_order,
        sc.conversion_rate,
        f.median_days,
        p.weeks,
        coalesce(f.entries, 0) as entries,
        coalesce(f.exits, 0) as exits,
        coalesce(o.open_deals, 0) as open_deals
    from mart_stage_conversion as sc
    cross join params as p
    left join stint_flows as f
        on sc.pipeline = f.pipeline and sc.stage = f.stage
    left join open_in_stage as o
        on sc.pipeline = o.pipeline and sc.stage = o.stage
)

-- The column order is part of the documented interface (docs/metrics.md).
select  -- noqa: ST06
    pipeline,
    stage,
    stage_order,
    entries,
    exits,
    entries / weeks as entries_per_week,
    exits / weeks as exits_per_week,
    (entries - exits) / weeks as net_per_week,
    median_days,
    open_deals,
    conversion_rate
from stage_velocity
order by pipeline, stage_order
