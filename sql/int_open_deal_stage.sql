-- int_open_deal_stage: the stage each deal open at as_of was sitting in then, and for how long.
-- Grain: source x deal_id, for every deal open at as_of (int_deals_as_of.status = 'open').
-- stage, stage_order: the deal's stint (in its current pipeline) that covers as_of: entered by
--   as_of and not exited by then (the latest entry if recorded stints overlap). Without one, the
--   exported current stage if the deal was exported by as_of; else NULL.
-- stint_entered_at: when that stint began; NULL when unknown (a deal exported without history or
--   a stage-change date).
-- days_in_stage: days the deal has spent in this stage by as_of: the current stint's age plus its
--   earlier completed stints in the same stage (mart_stage_duration also sums a deal's stints).
--   NULL when the current stint's entry is unknown.
with open_deals as (
    select *
    from int_deals_as_of
    where status = 'open'
),

covering_stints as (
    select
        e.source,
        e.deal_id,
        e.stage,
        e.stage_order,
        e.entered_at
    from deal_stage_events as e
    inner join open_deals as d
        on e.source = d.source and e.deal_id = d.deal_id and e.pipeline = d.pipeline
    cross join build_params as bp
    where
        (e.entered_at <= bp.as_of or (e.entered_at is null and d.exported_by_as_of))
        and (e.exited_at is null or e.exited_at > bp.as_of)
    qualify row_number() over (
        partition by e.source, e.deal_id order by e.entered_at desc nulls last
    ) = 1
),

earlier_stints as (
    select
        c.source,
        c.deal_id,
        sum(epoch(e.exited_at) - epoch(e.entered_at)) / 86400.0 as earlier_days
    from covering_stints as c
    inner join deal_stage_events as e
        on c.source = e.source and c.deal_id = e.deal_id and c.stage = e.stage
    where
        e.entered_at < c.entered_at and e.exited_at <= c.entered_at and e.exited_at >= e.entered_at
    group by c.source, c.deal_id
)

select
    d.source,
    d.deal_id,
    d.pipeline,
    d.amount_base,
    c.entered_at as stint_entered_at,
    case when c.deal_id is not null then c.stage else d.stage end as stage,
    case when c.deal_id is not null then c.stage_order else d.stage_order end as stage_order,
    (epoch(bp.as_of) - epoch(c.entered_at)) / 86400.0
    + coalesce(es.earlier_days, 0) as days_in_stage
from open_deals as d
cross join build_params as bp
left join covering_stints as c
    on d.source = c.source and d.deal_id = c.deal_id
left join earlier_stints as es
    on d.source = es.source and d.deal_id = es.deal_id
