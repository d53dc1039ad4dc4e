-- mart_stage_duration: how long deals stay in each stage, over stints completed by as_of.
-- Grain: pipeline x stage (stages with at least one completed stint; stage_order NULL if terminal).
-- A completed stint has entered_at and exited_at (<= as_of) known, exited_at >= entered_at
-- (an exit before the entry is a data error, not a duration). A deal's completed stints in one
-- stage are summed first, so a re-entered stage counts the deal once with its total time there.
-- deals: deals with a completed stint in the stage; mean_days, p10_days, p25_days, median_days,
-- p75_days, p90_days: over those deals' total days (fractional), percentiles by linear
-- interpolation (p10 and p25 draw the report's box plots). Sums are DECIMAL, so the same stints
-- give the same figures whatever order DuckDB adds them in (a restored backup rebuilds this mart).
with deal_stage_days as (
    select
        e.pipeline,
        e.stage,
        e.source,
        e.deal_id,
        max(e.stage_order) as stage_order,
        sum((epoch(e.exited_at) - epoch(e.entered_at))::decimal(38, 6))::double / 86400.0
            as days_in_stage
    from deal_stage_events as e
    cross join build_params as bp
    where
        e.entered_at is not null
        and e.exited_at <= bp.as_of
        and e.exited_at >= e.entered_at
    group by e.pipeline, e.stage, e.source, e.deal_id
)

select
    pipeline,
    stage,
    max(stage_order) as stage_order,
    count(*) as deals,
    avg(days_in_stage::decimal(38, 9))::double as mean_days,
    quantile_cont(days_in_stage, 0.1) as p10_days,
    quantile_cont(days_in_stage, 0.25) as p25_days,
    quantile_cont(days_in_stage, 0.5) as median_days,
    quantile_cont(days_in_stage, 0.75) as p75_days,
    quantile_cont(days_in_stage, 0.9) as p90_days
from deal_stage_days
group by pipeline, stage
order by pipeline, stage_order nulls last, stage
