-- change_closed_deals: the deals closed (won or lost) from $since to as_of, as known at as_of,
-- with the amount a won deal books (the `closed` component of forecast_periods sums the same).
-- Grain: closed deal (source, deal_id).
select
    source,
    deal_id,
    status,
    closed_at,
    amount_base
from int_deals_as_of
where status in ('won', 'lost') and closed_at >= $since
order by source, deal_id
