-- int_deal_progress: how far each deal got through its pipeline's open stages, as known at as_of.
-- Grain: source x deal_id (the deals of int_deals_as_of).
-- max_open_stage_order: the highest open stage_order ever observed for the deal, in its stage
--   events of its current pipeline (entered by as_of) or as its current stage; NULL if none known.
--   Reached-stage counting uses it: skipped stages count as passed, re-entries count once.
-- lost_stage_unknown: a lost deal with no known open stage (e.g. exported only as "Closed Lost");
--   it counts in win rates but not in stage conversion.
-- regressions: moves from an open stage to a lower open stage in the deal's recorded stints.
-- The lag runs per (source, deal_id, pipeline) over the stints of every pipeline, and only the
--   deal's current pipeline is kept by the final join: the same partition as filtering the stints
--   to that pipeline first, without joining ~3M stints to the deals (the build's costliest join).
--   Undated stints (entered_at NULL) sort last, so they change neither the lag nor the maximum of
--   the dated ones: their regressions and maximum are kept apart and count only for a deal
--   exported by as_of, as before.
with known_events as (
    select
        e.source,
        e.deal_id,
        e.pipeline,
        e.stage_order,
        e.entered_at,
        e.stint
    from deal_stage_events as e
    cross join build_params as bp
    where
        e.stage_order is not null
        and (e.entered_at <= bp.as_of or e.entered_at is null)
),

event_steps as (
    select
        source,
        deal_id,
        pipeline,
        stage_order,
        entered_at is null as undated,
        stage_order < lag(stage_order) over (
            partition by source, deal_id, pipeline order by entered_at nulls last, stint
        ) as is_regression
    from known_events
),

event_progress as (
    select
        source,
        deal_id,
        pipeline,
        max(stage_order) filter (where not undated) as max_dated_stage_order,
        max(stage_order) filter (where undated) as max_undated_stage_order,
        count(*) filter (where is_regression and not undated) as dated_regressions,
        count(*) filter (where is_regression and undated) as undated_regressions
    from event_steps
    group by source, deal_id, pipeline
),

deal_events as (
    select
        d.source,
        d.deal_id,
        d.pipeline,
        d.status,
        d.stage_order,
        case
            when d.exported_by_as_of
                then greatest(ep.max_dated_stage_order, ep.max_undated_stage_order)
            else ep.max_dated_stage_order
        end as max_event_stage_order,
        ep.dated_regressions
        + case when d.exported_by_as_of then ep.undated_regressions else 0 end as regressions
    from int_deals_as_of as d
    left join event_progress as ep
        on d.source = ep.source and d.deal_id = ep.deal_id and d.pipeline = ep.pipeline
)

select
    source,
    deal_id,
    pipeline,
    status,
    stage_order,
    greatest(max_event_stage_order, stage_order) as max_open_stage_order,
    coalesce(regressions, 0) as regressions,
    status = 'lost'
    and max_event_stage_order is null
    and stage_order is null as lost_stage_unknown
from deal_events
