-- int_forecast_open_deals: the deals open at as_of as the forecast engine sees them.
-- Grain: source x deal_id, one row per deal open at as_of (int_open_deal_stage).
-- stage, stage_order: the stage the deal sat in at as_of (int_open_deal_stage; NULL if unknown).
-- stage_age_days: as_of - start of the current stint, in days; when the stint's start is unknown,
--   from the export's stage_changed_at if that export was taken by as_of; else NULL.
-- amount_base, deal_type: as known at as_of (int_deals_as_of).
-- crm_probability: the CRM's probability, only from an export taken by as_of (a later export's
--   probability reflects later knowledge). stage_probability: the stage's default probability
--   (stages.default_probability, from [pipeline] probabilities in the config).
-- expected_close_date: from the latest snapshot taken by as_of, else from the export if it was
--   taken by as_of (int_deals_as_of); NULL otherwise.
-- deal_age_days: as_of - created_at in days; NULL when the creation time is unknown.
-- imputed_amount_base: for a deal without amount_base, the median amount of the deals won by as_of
--   in its pipeline and deal type when there are at least 20 of them, else of every won deal;
--   NULL for a deal with an amount (the forecast uses it unless imputation is turned off).
with won_amounts as (
    select
        pipeline,
        deal_type,
        amount_base
    from int_deals_as_of
    where status = 'won' and amount_base > 0
),

won_by_segment as (
    select
        pipeline,
        deal_type,
        median(amount_base) as median_won_amount,
        count(*) as won_deals
    from won_amounts
    group by pipeline, deal_type
),

won_overall as (
    select median(amount_base) as median_won_amount
    from won_amounts
)

select
    o.source,
    o.deal_id,
    o.pipeline,
    o.stage,
    o.stage_order,
    d.amount_base,
    d.deal_type,
    st.default_probability as stage_probability,
    case when d.exported_by_as_of then dl.probability end as crm_probability,
    case
        when d.snapshot_by_as_of or d.exported_by_as_of then d.expected_close_date
    end as expected_close_date,
    case
        when o.stint_entered_at is not null
            then (epoch(bp.as_of) - epoch(o.stint_entered_at)) / 86400.0
        when d.exported_by_as_of and dl.stage_changed_at <= bp.as_of
            then (epoch(bp.as_of) - epoch(dl.stage_changed_at)) / 86400.0
    end as stage_age_days,
    (epoch(bp.as_of) - epoch(d.created_at)) / 86400.0 as deal_age_days,
    case
        when d.amount_base is null and ws.won_deals >= 20 then ws.median_won_amount
        when d.amount_base is null then wo.median_won_amount
    end as imputed_amount_base
from int_open_deal_stage as o
inner join int_deals_as_of as d
    on o.source = d.source and o.deal_id = d.deal_id
inner join deals as dl
    on o.source = dl.source and o.deal_id = dl.deal_id
cross join build_params as bp
cross join won_overall as wo
left join stages as st
    on o.pipeline = st.pipeline and o.stage = st.stage
left join won_by_segment as ws
    on d.pipeline = ws.pipeline and d.deal_type = ws.deal_type
