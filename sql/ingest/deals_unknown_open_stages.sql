-- Open incoming deals (temp table incoming_deals) in a stage missing from the configured stages,
-- the five most common, for the warning. Grain: one row per stage.
select
    stage,
    count(*) as deals
from incoming_deals
where stage_order is null and status = 'open'
group by stage
order by count(*) desc, stage
limit 5
