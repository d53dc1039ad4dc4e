-- int_forecast_deal_ages: every deal created by as_of at a known time, with its age and what
-- became of it as known at as_of. The forecast's deal-age model (docs/forecasting.md) reads it:
-- won and lost compete by deal age, deals still open are censored at their age. It needs only
-- creation and close dates, so it works on exports without stage history.
-- Grain: source x deal_id, for deals of int_deals_as_of with a known created_at.
-- age_at_as_of: as_of - created_at in days. outcome: status at as_of ('won', 'lost', 'open').
-- days_to_close: closed_at - created_at in days for a deal closed by as_of (cycle_days).
-- Left out: deals closed at an unknown time or before their creation (no age to place the outcome
--   at; mart_data_quality reports them).
select
    d.source,
    d.deal_id,
    d.pipeline,
    d.deal_type,
    d.amount_base,
    d.status as outcome,
    d.cycle_days as days_to_close,
    (epoch(bp.as_of) - epoch(d.created_at)) / 86400.0 as age_at_as_of
from int_deals_as_of as d
cross join build_params as bp
where
    d.created_at is not null
    and (d.status = 'open' or d.cycle_days is not null)
