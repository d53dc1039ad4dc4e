-- mart_stage_conversion: the funnel of each pipeline's open stages, over all deals known at as_of.
-- Grain: pipeline x open stage (stages with a stage_order).
-- reached: deals whose highest open stage (int_deal_progress.max_open_stage_order) is at or past
--   this stage, plus every won deal; the first stage is reached by every deal of the pipeline.
-- advanced: deals that reached a later stage or were won. lost_here: lost deals whose highest open
--   stage is this one. open_here: open deals whose highest open stage is this one.
-- won_deals, lost_deals: resolved outcomes among the deals that reached the stage.
-- conversion_rate = advanced / (advanced + lost_here): lost deals of unknown stage and open deals
--   still here are left out. win_rate_from_stage = won_deals / (won_deals + lost_deals).
-- lost_stage_unknown: the pipeline's lost deals whose last open stage is unknown (the same on
--   every row of the pipeline); they count in the first stage's lost_deals and in no lost_here.
-- conversion_measured: at least one lost deal of the pipeline has a known last open stage. When
--   none has (no stage history, or no lost deal at all), every conversion_rate reads 1.0 and so
--   does every win_rate_from_stage after the first: the data cannot measure them.
with open_stages as (
    select
        pipeline,
        stage,
        stage_order,
        min(stage_order) over (partition by pipeline) as first_stage_order
    from stages
    where stage_order is not null
),

deal_stage_outcomes as (
    select
        s.pipeline,
        s.stage,
        s.stage_order,
        p.deal_id,
        p.status,
        p.status = 'won'
        or s.stage_order = s.first_stage_order
        or coalesce(p.max_open_stage_order >= s.stage_order, false) as reached,
        p.status = 'won'
        or coalesce(p.max_open_stage_order > s.stage_order, false) as advanced,
        coalesce(p.max_open_stage_order = s.stage_order, false) as highest_here,
        coalesce(p.lost_stage_unknown, false) as lost_stage_unknown,
        s.stage_order = s.first_stage_order as is_first_stage
    from open_stages as s
    -- left join: a stage no deal reached still gets its row, with zero counts
    left join int_deal_progress as p on s.pipeline = p.pipeline
),

stage_counts as (
    select
        pipeline,
        stage,
        stage_order,
        count(deal_id) filter (where reached) as reached,
        count(deal_id) filter (where advanced) as advanced,
        count(deal_id) filter (where highest_here and status = 'lost') as lost_here,
        count(deal_id) filter (where highest_here and status = 'open') as open_here,
        count(deal_id) filter (where reached and status = 'won') as won_deals,
        count(deal_id) filter (where reached and status = 'lost') as lost_deals,
        count(deal_id) filter (where lost_stage_unknown and is_first_stage) as lost_stage_unknown
    from deal_stage_outcomes
    group by pipeline, stage, stage_order
)

select
    pipeline,
    stage,
    stage_order,
    reached,
    advanced,
    lost_here,
    open_here,
    won_deals,
    lost_deals,
    advanced / nullif(advanced + lost_here, 0) as conversion_rate,
    won_deals / nullif(won_deals + lost_deals, 0) as win_rate_from_stage,
    max(lost_stage_unknown) over (partition by pipeline) as lost_stage_unknown,
    sum(lost_here) over (partition by pipeline) > 0 as conversion_measured
from stage_counts
order by pipeline, stage_order
