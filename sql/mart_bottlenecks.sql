-- mart_bottlenecks: where the pipeline leaks or stalls, per open stage, ranked worst first.
-- Grain: pipeline x open stage.
-- reached, lost_here, conversion_rate: as in mart_stage_conversion. median_days, p90_days: as in
--   mart_stage_duration (completed stints by as_of, a deal's stints in the stage summed).
-- open_deals, open_value_base: deals open at as_of sitting in the stage, and their amount_base
--   (int_open_deal_stage).
-- stuck_deals, stuck_value_base: those of the open deals whose days_in_stage exceed the stage's
--   p90_days, i.e. open longer than 9 in 10 deals that completed the stage took; NULL when the
--   stage has no completed stint yet. Deals whose entry into the stage is unknown are not stuck.
-- days_per_advance = median_days / conversion_rate: stage time spent per deal that moves on. If
--   every deal spends about median_days in the stage and only conversion_rate of them advance, the
--   stage consumes median_days / conversion_rate deal-days per advance, so a stage scores high by
--   being slow, by leaking, or both. +infinity when nothing advanced (conversion_rate 0); NULL
--   when either part is unknown, conversion included when the data cannot measure it.
-- conversion_measured: as in mart_stage_conversion (some lost deal of the pipeline has a known
--   last open stage); when false, conversion_rate reads 1.0 without meaning it.
-- rank: 1 = worst within the pipeline: days_per_advance descending (unknown last), then
--   stuck_value_base descending, then stage_order.
with open_in_stage as (
    select
        o.pipeline,
        o.stage,
        count(*) as open_deals,
        coalesce(sum(o.amount_base), 0) as open_value_base,
        count(*) filter (where o.days_in_stage > sd.p90_days) as stuck_deals,
        coalesce(sum(o.amount_base) filter (where o.days_in_stage > sd.p90_days), 0)
            as stuck_value_base
    from int_open_deal_stage as o
    left join mart_stage_duration as sd
        on o.pipeline = sd.pipeline and o.stage = sd.stage
    where o.stage_order is not null
    group by o.pipeline, o.stage
),

stage_scores as (
    select
        sc.pipeline,
        sc.stage,
        sc.stage_order,
        sc.reached,
        sc.lost_here,
        sc.conversion_rate,
        sc.conversion_measured,
        sd.median_days,
        sd.p90_days,
        coalesce(ois.open_deals, 0) as open_deals,
        coalesce(ois.open_value_base, 0) as open_value_base,
        case when sd.p90_days is not null then coalesce(ois.stuck_deals, 0) end as stuck_deals,
        case
            when sd.p90_days is not null then coalesce(ois.stuck_value_base, 0)
        end as stuck_value_base,
        case
            when not sc.conversion_measured then null
            when sc.conversion_rate = 0 and sd.median_days is not null then 'infinity'::double
            else sd.median_days / sc.conversion_rate
        end as days_per_advance
    from mart_stage_conversion as sc
    left join mart_stage_duration as sd
        on sc.pipeline = sd.pipeline and sc.stage = sd.stage
    left join open_in_stage as ois
        on sc.pipeline = ois.pipeline and sc.stage = ois.stage
),

ranked as (
    select
        *,
        row_number() over (
            partition by pipeline
            order by
                days_per_advance desc nulls last, stuck_value_base desc nulls last, stage_order asc
        ) as rank
    from stage_scores
)

select
    pipeline,
    stage,
    stage_order,
    reached,
    lost_here,
    conversion_rate,
    median_days,
    p90_days,
    open_deals,
    open_value_base,
    stuck_deals,
    stuck_value_base,
    days_per_advance,
    rank,
    conversion_measured
from ranked
order by pipeline, rank
