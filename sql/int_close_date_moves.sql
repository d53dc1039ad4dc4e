-- int_close_date_moves: each move of a deal's expected close date while it was open, as known at
-- as_of. Grain: source x deal_id x moved_at.
-- evidence 'history': close-date changes in deal_changes (field expected_close_date, close_date or
--   closedate), both dates readable. evidence 'snapshot': for deals without such changes, two
--   consecutive snapshots (taken by as_of) showing different expected close dates, the earlier
--   with the deal open; moved_at is the later snapshot (the move happened between the two).
-- Only moves made while the deal was open (moved_at <= open_until of int_deals_as_of), so the
--   close date a CRM sets when the deal closes counts when it is later than the date expected.
-- days_moved = new_date - old_date (negative: pulled in); pushed = days_moved > 0.
-- old_period_start, new_period_start: the fiscal quarter (build_params.fiscal_year_start_month)
--   of each date; out_of_period: pushed into a later quarter.
-- Portable (DuckDB and Spark): day differences with datediff; quarter starts with
--   interval 1 month * n.
with params as (
    select
        as_of,
        coalesce(fiscal_year_start_month, 1) as fiscal_start
    from build_params
),

from_history as (
    select
        c.source,
        c.deal_id,
        c.changed_at as moved_at,
        try_cast(left(c.old_value, 10) as date) as old_date,
        try_cast(left(c.new_value, 10) as date) as new_date,
        'history' as evidence
    from deal_changes as c
    cross join params as p
    where
        lower(c.field) in ('expected_close_date', 'close_date', 'closedate')
        and c.changed_at <= p.as_of
),

changed_deals as (
    select distinct
        source,
        deal_id
    from from_history
),

snapshot_pairs as (
    select
        s.source,
        s.deal_id,
        s.snapshot_at,
        s.expected_close_date,
        lag(s.expected_close_date) over w as previous_date,
        lag(s.status) over w as previous_status
    from deal_snapshots as s
    cross join params as p
    left join changed_deals as c
        on s.source = c.source and s.deal_id = c.deal_id
    where s.snapshot_at <= p.as_of and c.deal_id is null
    window w as (partition by s.source, s.deal_id order by s.snapshot_at)
),

from_snapshots as (
    select
        source,
        deal_id,
        snapshot_at as moved_at,
        previous_date as old_date,
        expected_close_date as new_date,
        'snapshot' as evidence
    from snapshot_pairs
    where
        previous_status = 'open'
        and previous_date is not null
        and expected_close_date is not null
        and previous_date <> expected_close_date
),

moves as (
    select * from from_history
    union all
    select * from from_snapshots
),

dated as (
    select
        m.source,
        m.deal_id,
        m.moved_at,
        m.old_date,
        m.new_date,
        m.evidence,
        cast(
            date_trunc('month', m.old_date)
            - interval 1 month * ((month(m.old_date) - p.fiscal_start + 12) % 3) as date
        ) as old_period_start,
        cast(
            date_trunc('month', m.new_date)
            - interval 1 month * ((month(m.new_date) - p.fiscal_start + 12) % 3) as date
        ) as new_period_start,
        datediff('day', m.old_date, m.new_date) as days_moved
    from moves as m
    cross join params as p
    inner join int_deals_as_of as d
        on m.source = d.source and m.deal_id = d.deal_id
    where
        m.old_date is not null
        and m.new_date is not null
        and m.old_date <> m.new_date
        and m.moved_at <= d.open_until
)

select
    source,
    deal_id,
    moved_at,
    old_date,
    new_date,
    evidence,
    days_moved,
    old_period_start,
    new_period_start,
    days_moved > 0 as pushed,
    new_period_start > old_period_start as out_of_period
from dated
