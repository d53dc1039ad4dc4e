-- int_deal_progress: how far each deal got through its pipeline's open stages, as known at as_of.
-- Grain: source x deal_id (the deals of int_deals_as_of).
-- max_open_stage_order: the highest open stage_order ever observed for the deal, in its stage
--   events of its current pipeline (entered by as_of) or as its current stage; NULL if none known.
--   Reached-stage counting uses it: skipped stages count as passed, re-entries count once.
-- lost_stage_unknown: a lost deal with no known open stage (e.g. exported only as "Closed Lost");
--   it counts in win rates but not in stage conversion.
-- regressions: moves from an open stage to a lower open stage in the deal's recorded stints.
with known_events as (
    select
        e.source,
        e.deal_id,
        e.stage_order,
        e.entered_at,
        e.stint
    from deal_stage_events as e
    inner join int_deals_as_of as d
        on e.source = d.source and e.deal_id = d.deal_id and e.pipeline = d.pipeline
    cross join build_params as bp
    where
        e.stage_order is not null
        and (e.entered_at <= bp.as_of or (e.entered_at is null and d.exported_by_as_of))
),

event_steps as (
    select
        source,
        deal_id,
        stage_order,
        stage_order < lag(stage_order) over (
            partition by source, deal_id order by entered_at nulls last, stint
        ) as is_regression
    from known_events
),

event_progress as (
    select
        source,
        deal_id,
        max(stage_order) as max_event_stage_order,
        count(*) filter (where is_regression) as regressions
    from event_steps
    group by source, deal_id
)

select
    d.source,
    d.deal_id,
    d.pipeline,
    d.status,
    d.stage_order,
    greatest(ep.max_event_stage_order, d.stage_order) as max_open_stage_order,
    coalesce(ep.regressions, 0) as regressions,
    d.status = 'lost'
    and ep.max_event_stage_order is null
    and d.stage_order is null as lost_stage_unknown
from int_deals_as_of as d
left join event_progress as ep
    on d.source = ep.source and d.deal_id = ep.deal_id
