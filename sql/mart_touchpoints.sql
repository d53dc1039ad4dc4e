-- mart_touchpoints: how many activities deals take, per outcome, over all deals known at as_of.
-- Grain: status ('won', 'lost', 'open'); a status without deals has no row.
-- deals: deals of that status whose activity count is known (int_deal_activities: from the
--   activities file, or else the export's activity-count column); deals_without_activity_data:
--   the others. activities: their total; mean_activities, median_activities: per deal.
-- deals_from_activity_log, deals_from_activity_count: how many of `deals` came from each basis.
-- Open deals are still collecting activities, so their counts are not final.
select
    status,
    count(activities) as deals,
    count(*) - count(activities) as deals_without_activity_data,
    coalesce(sum(activities), 0)::bigint as activities,
    avg(activities) as mean_activities,
    quantile_cont(activities, 0.5) as median_activities,
    count(*) filter (where activity_basis = 'activity_log') as deals_from_activity_log,
    count(*) filter (where activity_basis = 'activity_count') as deals_from_activity_count
from int_deal_activities
group by status
order by case status when 'won' then 1 when 'lost' then 2 else 3 end
