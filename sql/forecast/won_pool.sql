-- won_pool: the amounts of the deals won in the lookback window before $as_of, which the new
-- pipeline's simulated wins are drawn from.
-- Grain: won deal with an amount (source, deal_id), in that order.
select
    d.amount_base,
    d.deal_type
from int_deals_as_of as d, build_params as bp
where
    d.status = 'won' and d.amount_base > 0
    and d.closed_at > $as_of - to_days(bp.lookback_days)  -- noqa: RF02
order by d.source, d.deal_id
