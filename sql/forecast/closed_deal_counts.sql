-- closed_deal_counts: the deals won and lost by as_of, and how many deals closed a day since the
-- first known close ($as_of: the forecast's moment; int_deals_as_of is built as of it).
-- Grain: one row.
select
    count(*) filter (status = 'won') as won,
    count(*) filter (status = 'lost') as lost,
    count(closed_at)
    / greatest(1.0, (epoch($as_of) - epoch(min(closed_at))) / 86400.0) as per_day
from int_deals_as_of
