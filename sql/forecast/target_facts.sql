-- target_facts: each target's facts at as_of, before any simulation.
-- Grain: one row per target of target_periods (target_index, period, period_kind, period_start,
--   period_end (first day after), owner, pipeline, target), registered by forecast/targets.py.
-- closed_to_date: amount_base of the deals won in [period_start, period_end) by as_of, of the
--   target's owner or pipeline when it names one. remaining: max(target - closed_to_date, 0).
-- open_pipeline: amount_base of the deals open at as_of that could close by the period's end, of
--   the target's owner or pipeline: expected close date before period_end (an overdue date
--   counts: the deal is still open), or unknown (in exports it is often missing, and such a deal
--   may close any time); a deal the CRM expects after the period does not cover it. Amounts the
--   export lacks count 0 (imputed amounts are the forecast's, not pipeline).
-- coverage: open_pipeline / remaining; required_win_rate: remaining / open_pipeline (the share of
--   the open pipeline that would have to be won). Both NULL once the period has ended; coverage
--   NULL when nothing remains, required_win_rate 0 then and NULL without open pipeline.
with won as (
    select
        t.target_index,
        -- exact: any order, same sum
        sum(d.amount_base::decimal(38, 6))::double as closed_to_date
    from target_periods as t
    inner join int_deals_as_of as d
        on
            t.period_start <= d.closed_at
            and t.period_end > d.closed_at
            and (t.owner is null or t.owner = d.owner)
            and (t.pipeline is null or t.pipeline = d.pipeline)
    where d.status = 'won'
    group by t.target_index
),

open_deals as (
    select
        t.target_index,
        sum(o.amount_base::decimal(38, 6))::double as open_pipeline
    from target_periods as t
    inner join int_forecast_open_deals as o on true
    inner join int_deals_as_of as d on o.source = d.source and o.deal_id = d.deal_id
    where
        (t.owner is null or d.owner = t.owner)
        and (t.pipeline is null or d.pipeline = t.pipeline)
        and (o.expected_close_date is null or o.expected_close_date < t.period_end)
    group by t.target_index
),

facts as (
    select
        t.target_index,
        t.period,
        t.period_kind,
        t.period_start,
        t.period_end,
        t.owner,
        t.pipeline,
        t.target,
        coalesce(w.closed_to_date, 0) as closed_to_date,
        greatest(t.target - coalesce(w.closed_to_date, 0), 0) as remaining,
        coalesce(o.open_pipeline, 0) as open_pipeline,
        t.period_end <= bp.as_of as ended
    from target_periods as t
    cross join build_params as bp
    left join won as w on t.target_index = w.target_index
    left join open_deals as o on t.target_index = o.target_index
)

select
    target_index,
    period,
    period_kind,
    period_start,
    period_end,
    owner,
    pipeline,
    target,
    closed_to_date,
    remaining,
    open_pipeline,
    ended,
    case
        when not ended and remaining > 0 then open_pipeline / remaining
    end as coverage,
    case
        when ended then null
        when remaining = 0 then 0.0
        when open_pipeline > 0 then remaining / open_pipeline
    end as required_win_rate
from facts
order by target_index
