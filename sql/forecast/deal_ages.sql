-- deal_ages: every deal created by as_of at a known time, its age and outcome, for the new
-- pipeline's time from creation to won.
-- Grain: deal (source, deal_id), in that order.
select
    pipeline,
    deal_type,
    amount_base,
    outcome,
    age_at_as_of,
    days_to_close
from int_forecast_deal_ages
order by source, deal_id
