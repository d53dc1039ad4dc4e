-- mart_stuck_deals: the stuck deals of mart_bottlenecks one by one, largest first.
-- Grain: open deal (source, deal_id) stuck in its stage.
-- A deal is stuck when its days in its current open stage (int_open_deal_stage.days_in_stage)
--   exceed the stage's p90_days (mart_bottlenecks): open there longer than 9 in 10 of the deals
--   that completed the stage took. Its count per stage is mart_bottlenecks.stuck_deals.
-- name, account, owner, amount_base: from deals.
-- size_rank: 1 for the largest amount_base (unknown last), then the longest days_in_stage, then
--   deal_id: the order the report lists them in.
select
    o.source,
    o.deal_id,
    d.name,
    d.account,
    d.owner,
    o.pipeline,
    o.stage,
    d.amount_base,
    o.days_in_stage,
    b.p90_days,
    row_number() over (
        order by d.amount_base desc nulls last, o.days_in_stage desc, d.deal_id asc
    ) as size_rank
from int_open_deal_stage as o
inner join mart_bottlenecks as b on o.pipeline = b.pipeline and o.stage = b.stage
inner join deals as d on o.source = d.source and o.deal_id = d.deal_id
where o.days_in_stage > b.p90_days
order by size_rank
