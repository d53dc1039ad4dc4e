-- mart_deal_cycle: the sales cycle of every deal closed by as_of with a known close date.
-- Grain: closed deal (source, deal_id).
-- cycle_days: closed_at - created_at in fractional days; NULL when created_at is unknown or
--   close_before_create (closed_at < created_at: a data error, excluded from cycle statistics).
-- close_month: first day of the month of closed_at.
select
    source,
    deal_id,
    pipeline,
    status,
    created_at,
    closed_at,
    cycle_days,
    close_before_create,
    amount_base,
    owner,
    lead_source,
    date_trunc('month', closed_at)::date as close_month
from int_deals_as_of
where status in ('won', 'lost') and closed_at is not null
order by closed_at, source, deal_id
