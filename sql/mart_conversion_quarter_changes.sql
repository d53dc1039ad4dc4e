-- mart_conversion_quarter_changes: what moved the win rate between the quarter before and the
-- quarter holding as_of (the quarters of mart_kpi_quarter_changes), stage by stage.
-- Grain: pipeline x open stage. Empty when the data has no quarter before the current one.
-- Among the deals closed in a quarter (period_start <= closed_at <= period_end) whose last open
-- stage is known, the win rate is the product of the stage conversions (every such deal reached
-- the first stage; a won deal passed every stage), so the change of log win rate splits exactly
-- into the changes of log conversion per stage.
-- next_stage: the open stage after this one; NULL for the last (which leads to won).
-- pipeline_share: the pipeline's share of the current quarter's closed deals of known stage.
-- resolved_now, resolved_before: closed deals of the quarter that advanced past the stage or
--   were lost at it (advanced + lost_here, as in mart_stage_conversion, over the quarter's closed
--   deals).
-- measured_now, measured_before: the quarter's lost deals of the pipeline are not all of unknown
--   last stage (some lost deal has a known one, or none is of unknown stage); when false every
--   step would read 100%, so its conversion is NULL.
-- conversion_now, conversion_before: advanced / (advanced + lost_here) in each quarter.
-- win_rate_log_change: pipeline_share x (ln conversion_now - ln conversion_before); summed over
--   stages, the change of log win rate. A conversion of 0 counts as 0.1% (a collapse, ranked
--   first).
with compared_quarters as (
    select distinct
        period_start::timestamp as period_start,
        period_end,
        prev_period_start::timestamp as prev_period_start,
        prev_period_end
    from mart_kpi_quarter_changes
    where prev_period_start is not null
),

periods as (
    select
        'current' as period,
        period_start,
        period_end
    from compared_quarters

    union all

    select
        'previous' as period,
        prev_period_start as period_start,
        prev_period_end as period_end
    from compared_quarters
),

closed_progress as (
    select
        p.period,
        g.pipeline,
        g.status,
        g.max_open_stage_order,
        g.lost_stage_unknown
    from periods as p
    inner join int_deals_as_of as d
        on d.closed_at between p.period_start and p.period_end
    inner join int_deal_progress as g on d.source = g.source and d.deal_id = g.deal_id
    where d.status in ('won', 'lost')
),

period_measured as (
    select
        period,
        pipeline,
        count(*) filter (where status = 'lost' and not lost_stage_unknown) > 0
        or count(*) filter (where lost_stage_unknown) = 0 as measured
    from closed_progress
    group by period, pipeline
),

pipeline_shares as (
    select
        pipeline,
        count(*) / sum(count(*)) over () as pipeline_share
    from closed_progress
    where period = 'current' and not lost_stage_unknown
    group by pipeline
),

-- Only when there are two quarters to compare.
open_stages as (
    select
        st.pipeline,
        st.stage,
        st.stage_order,
        lead(st.stage) over (partition by st.pipeline order by st.stage_order) as next_stage
    from stages as st
    cross join compared_quarters
    where st.stage_order is not null
),

conversion as (
    select
        s.pipeline,
        s.stage,
        c.period,
        count(*) filter (
            where c.status = 'won' or c.max_open_stage_order > s.stage_order
        ) as advanced,
        count(*) filter (
            where c.status = 'lost' and c.max_open_stage_order = s.stage_order
        ) as lost_here
    from open_stages as s
    inner join closed_progress as c on s.pipeline = c.pipeline
    where not c.lost_stage_unknown
    group by s.pipeline, s.stage, c.period
),

paired as (
    select
        s.pipeline,
        s.stage,
        s.stage_order,
        s.next_stage,
        coalesce(ps.pipeline_share, 0) as pipeline_share,
        coalesce(cn.advanced + cn.lost_here, 0) as resolved_now,
        coalesce(cb.advanced + cb.lost_here, 0) as resolved_before,
        coalesce(mn.measured, true) as measured_now,
        coalesce(mb.measured, true) as measured_before,
        case
            when coalesce(mn.measured, true)
                then cn.advanced / nullif(cn.advanced + cn.lost_here, 0)
        end as conversion_now,
        case
            when coalesce(mb.measured, true)
                then cb.advanced / nullif(cb.advanced + cb.lost_here, 0)
        end as conversion_before
    from open_stages as s
    left join conversion as cn
        on s.pipeline = cn.pipeline and s.stage = cn.stage and cn.period = 'current'
    left join conversion as cb
        on s.pipeline = cb.pipeline and s.stage = cb.stage and cb.period = 'previous'
    left join pipeline_shares as ps on s.pipeline = ps.pipeline
    left join period_measured as mn on s.pipeline = mn.pipeline and mn.period = 'current'
    left join period_measured as mb on s.pipeline = mb.pipeline and mb.period = 'previous'
)

select
    *,
    pipeline_share * (
        ln(greatest(conversion_now, 0.001)) - ln(greatest(conversion_before, 0.001))
    ) as win_rate_log_change
from paired
order by pipeline, stage_order
