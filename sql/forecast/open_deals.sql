-- open_deals: the deals open at the forecast's as_of, as the engine forecasts them.
-- Grain: open deal (source, deal_id), in that order.
select
    source,
    deal_id,
    pipeline,
    stage,
    amount_base,
    deal_type,
    stage_probability,
    crm_probability,
    expected_close_date,
    stage_age_days,
    deal_age_days,
    imputed_amount_base
from int_forecast_open_deals
order by source, deal_id
