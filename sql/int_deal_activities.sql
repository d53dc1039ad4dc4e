-- int_deal_activities: how many activities (calls, emails, meetings...) each deal had by as_of.
-- Grain: source x deal_id (the deals of int_deals_as_of).
-- activities, activity_basis:
--   'activity_log' when the deal's source has an activities file loaded (any row in `activities`):
--     its activities that occurred by as_of and, for a closed deal, by its close (later ones are
--     after-sales work, not touchpoints that led to the outcome); 0 when it has none.
--   'activity_count' otherwise, from the activity-count column of the deal export (HubSpot
--     "Number of Sales Activities", Pipedrive "Deal - Done activities"), when the deal was
--     exported by as_of; such a count may include activities after the close.
--   NULL (both columns) when neither is known.
with logged_sources as (
    select distinct source
    from activities
),

logged_counts as (
    select
        d.source,
        d.deal_id,
        count(*) as activities
    from activities as a
    inner join int_deals_as_of as d
        on a.source = d.source and a.deal_id = d.deal_id
    cross join build_params as bp
    where
        a.occurred_at <= bp.as_of
        and (d.closed_at is null or a.occurred_at <= d.closed_at)
    group by d.source, d.deal_id
)

select
    d.source,
    d.deal_id,
    d.status,
    case
        when ls.source is not null then coalesce(lc.activities, 0)
        else d.activity_count
    end as activities,
    case
        when ls.source is not null then 'activity_log'
        when d.activity_count is not null then 'activity_count'
    end as activity_basis
from int_deals_as_of as d
left join logged_sources as ls on d.source = ls.source
left join logged_counts as lc
    on d.source = lc.source and d.deal_id = lc.deal_id
