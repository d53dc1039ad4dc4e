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
    end as stage_age_days
from int_open_deal_stage as o
inner join int_deals_as_of as d
    on o.source = d.source and o.deal_id = d.deal_id
inner join deals as dl
    on o.source = dl.source and o.deal_id = dl.deal_id
cross join build_params as bp
left join stages as st
    on o.pipeline = st.pipeline and o.stage = st.stage
