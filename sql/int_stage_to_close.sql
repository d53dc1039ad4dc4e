-- int_stage_to_close: how long won deals took to close from each open stage they entered.
-- Grain: won deal x open stage it entered (source, deal_id, pipeline, stage).
-- days_to_close = closed_at - first entry into the stage (its earliest stint), in fractional days.
-- Kept: won deals closed by build_params.as_of (nothing known after as_of is used), every stint of
-- the stage with a known entered_at (else the first entry is unknown), and closed_at >= entered_at
-- (a close before the entry is a data error, reported by mart_data_quality, not a duration).
-- Read by the forecast: the median per stage dates an open deal's close when the CRM gives no
-- expected close date (the crm_weighted cross-check and the engine's `crm` fallback).
with won_deals as (
    select
        d.source,
        d.deal_id,
        d.closed_at
    from deals as d
    cross join build_params as bp
    where
        d.status = 'won'
        and d.closed_at is not null
        and d.closed_at <= bp.as_of
),

won_events as (
    -- only the stints of those deals are grouped (a semi join keeps whole deals, so each group
    -- and its count are as over every stint): about a fifth of them, at each backtest origin less
    select
        e.source,
        e.deal_id,
        e.pipeline,
        e.stage,
        e.stage_order,
        e.entered_at
    from deal_stage_events as e
    semi join won_deals as w on e.source = w.source and e.deal_id = w.deal_id
    where e.stage_order is not null
),

first_entry as (
    select
        e.source,
        e.deal_id,
        e.pipeline,
        e.stage,
        e.stage_order,
        min(e.entered_at) as first_entered_at
    from won_events as e
    group by e.source, e.deal_id, e.pipeline, e.stage, e.stage_order
    having count(e.entered_at) = count(*)
)

select
    w.source,
    w.deal_id,
    f.pipeline,
    f.stage,
    f.stage_order,
    f.first_entered_at,
    w.closed_at,
    (epoch(w.closed_at) - epoch(f.first_entered_at)) / 86400.0 as days_to_close
from won_deals as w
inner join first_entry as f
    on w.source = f.source and w.deal_id = f.deal_id
where w.closed_at >= f.first_entered_at
