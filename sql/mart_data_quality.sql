-- mart_data_quality: what in the data bends the numbers, one row per check (every check always has
-- a row, deals_affected 0 when clean). Grain: check (check_name).
-- severity: 'error' = numbers are missing or wrong until fixed; 'warning' = numbers hold but are
--   less useful (or the CRM needs cleaning); 'info' = expected in real data, shown for context.
-- deals_affected: distinct deals (source, deal_id) the check found, among the deals known at
--   as_of (int_deals_as_of; event_in_future: flagged by files loaded by as_of), except:
--   duplicate_ids_in_file counts distinct repeated ids in files loaded by as_of,
--   activities_without_deal counts distinct deal ids of activities by as_of that match no deal.
--   sample_ids: up to 5 of those deal ids, sorted. explanation: what it means and how to fix it.
-- share_of_deals: deals_affected / the deals known at as_of (NULL when there are none); for the
--   checks counting other ids (duplicate_ids_in_file, activities_without_deal) only a scale.
-- missing_created_at: deals without a creation date (they load; cycle and cohort figures leave
--   them out).
-- Portable (DuckDB and Spark): sample_ids takes the five first ids by row_number and sorts them
--   with array_sort, instead of list_slice over an ordered list().
with params as (
    select as_of
    from build_params
),

checks (check_order, check_name, severity, explanation) as (
    values
    (
        1, 'closed_without_close_date', 'error',
        'Won or lost deals without a close date: they count in stage conversion but in no '
        || 'time window (win rate, bookings, cycle). Map the close-date column or fill it in.'
    ),
    (
        2, 'close_before_create', 'error',
        'Deals closed before they were created: excluded from cycle statistics. Usually a '
        || 'migrated record or a wrong created date; correct the date in the CRM.'
    ),
    (
        3, 'amount_without_fx_rate', 'error',
        'Deals with an amount in a currency that has no rate in [pipeline] rates: their '
        || 'amount is left out of every *_base total. Add the rate to the config.'
    ),
    (
        4, 'stage_not_in_config', 'error',
        'Deals whose current or recorded stage is neither a configured open stage nor a '
        || 'won/lost stage: they drop out of the funnel. Add the stage to [pipeline] stages '
        || 'or its value to [sources.status].'
    ),
    (
        5, 'event_in_future', 'error',
        'Deals whose export gave an event time (created, closed, stage changed) after the file '
        || 'was loaded: a typo or a placeholder. The deal loaded without that time. Fix the '
        || 'date in the CRM; flagged_values has the line, column and value.'
    ),
    (
        6, 'missing_amount_open', 'warning',
        'Open deals without an amount: they count as open deals but add nothing to the open '
        || 'pipeline, sales velocity or the forecast. Fill in the amount in the CRM.'
    ),
    (
        7, 'stale_expected_close', 'warning',
        'Open deals whose expected close date has passed: the CRM still expects them to have '
        || 'closed. Update the close date or close the deal.'
    ),
    (
        8, 'missing_owner', 'warning',
        'Deals without an owner: they appear as (none) in rep performance and count in no '
        || 'rep''s load. Map the owner column or assign the deals.'
    ),
    (
        9, 'duplicate_ids_in_file', 'warning',
        'Deal ids repeated within one export file: the last row of each was kept, the '
        || 'earlier ones are in rejected_rows. Check the export for duplicated lines.'
    ),
    (
        10, 'activities_without_deal', 'warning',
        'Activities whose deal id matches no deal of their source: they count in no '
        || 'touchpoint. Check the activities file''s deal_id mapping.'
    ),
    (
        11, 'lost_stage_unknown', 'info',
        'Lost deals with no known open stage (no history, exported only as lost): they count '
        || 'in win rates but not in stage conversion. Load the stage history to place them.'
    ),
    (
        12, 'stage_regressions', 'info',
        'Deals that moved back to an earlier stage at least once. Normal in moderation; a '
        || 'deal still counts once per stage in conversion.'
    ),
    (
        13, 'missing_created_at', 'warning',
        'Deals without a creation date: they count in win rates, the open pipeline, bookings '
        || 'and stage conversion, but not in the sales cycle, the deals and pipeline created '
        || 'per period or the forecast''s deal-age model. Map the created-date column or fill '
        || 'it in the CRM.'
    )
),

findings as (
    select
        'closed_without_close_date' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where status in ('won', 'lost') and closed_at is null

    union all

    select
        'close_before_create' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where close_before_create

    union all

    select
        'amount_without_fx_rate' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where amount is not null and amount_base is null

    union all

    select
        'stage_not_in_config' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where status = 'open' and stage is not null and stage_order is null

    union all

    select
        'stage_not_in_config' as check_name,
        e.source,
        e.deal_id
    from deal_stage_events as e
    inner join int_deals_as_of as d
        on e.source = d.source and e.deal_id = d.deal_id
    cross join params as p
    anti join stages as s
        on e.pipeline = s.pipeline and e.stage = s.stage
    where e.entered_at <= p.as_of

    union all

    select
        'event_in_future' as check_name,
        b.source,
        f.deal_id
    from flagged_values as f
    inner join ingest_batches as b on f.batch_id = b.batch_id
    inner join int_deals_as_of as d
        on b.source = d.source and f.deal_id = d.deal_id
    cross join params as p
    where
        f.flag = 'event_in_future'
        and b.status = 'loaded'
        and coalesce(b.snapshot_at <= p.as_of, true)

    union all

    select
        'missing_amount_open' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where status = 'open' and amount is null and amount_base is null

    union all

    select
        'stale_expected_close' as check_name,
        d.source,
        d.deal_id
    from int_deals_as_of as d
    cross join params as p
    where d.status = 'open' and d.expected_close_date < p.as_of::date

    union all

    select
        'missing_owner' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where owner is null

    union all

    select
        'duplicate_ids_in_file' as check_name,
        b.source,
        regexp_extract(r.reason, '^duplicate deal_id ''(.*)'': line', 1) as deal_id
    from rejected_rows as r
    inner join ingest_batches as b on r.batch_id = b.batch_id
    cross join params as p
    where
        r.reason like 'duplicate deal_id %'
        and b.status = 'loaded'
        and coalesce(b.snapshot_at <= p.as_of, true)

    union all

    select
        'activities_without_deal' as check_name,
        a.source,
        a.deal_id
    from activities as a
    cross join params as p
    anti join deals as d
        on a.source = d.source and a.deal_id = d.deal_id
    where a.occurred_at <= p.as_of

    union all

    select
        'lost_stage_unknown' as check_name,
        source,
        deal_id
    from int_deal_progress
    where lost_stage_unknown

    union all

    select
        'stage_regressions' as check_name,
        source,
        deal_id
    from int_deal_progress
    where regressions > 0

    union all

    select
        'missing_created_at' as check_name,
        source,
        deal_id
    from int_deals_as_of
    where created_at is null
),

distinct_findings as (
    select distinct
        check_name,
        source,
        deal_id
    from findings
),

ranked_findings as (
    select
        check_name,
        deal_id,
        count(*) over (partition by check_name) as deals_affected,
        row_number() over (partition by check_name order by deal_id) as id_rank
    from distinct_findings
),

check_counts as (
    -- the first five ids, collected in any order, then sorted
    select
        check_name,
        min(deals_affected) as deals_affected,
        array_sort(array_agg(deal_id) filter (where id_rank <= 5)) as sample_ids
    from ranked_findings
    group by check_name
),

known_deals as (
    select count(*) as deals
    from int_deals_as_of
)

-- The column order is part of the documented interface (docs/metrics.md).
select  -- noqa: ST06
    c.check_name,
    c.severity,
    coalesce(n.deals_affected, 0) as deals_affected,
    coalesce(n.sample_ids, []::varchar[]) as sample_ids,
    c.explanation,
    coalesce(n.deals_affected, 0) / nullif(k.deals, 0) as share_of_deals
from checks as c
cross join known_deals as k
left join check_counts as n on c.check_name = n.check_name
order by c.check_order
