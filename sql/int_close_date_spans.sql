-- int_close_date_spans: each deal's expected close date over time, as known at as_of.
-- Grain: source x deal_id x valid_from; the date holds for valid_from <= t < valid_until.
-- evidence 'history': the deal has close-date changes in deal_changes (field expected_close_date,
--   close_date or closedate, changed by as_of): the old value of its first change holds before it,
--   then the new value of each change until the next (mart_pipeline_flow reads these).
-- evidence 'snapshot': no such changes but snapshots taken by as_of: each snapshot's date from its
--   snapshot_at until the next (the first one also before it, as the only date known then).
-- evidence 'current': neither: the deal's current date holds throughout.
-- A closed deal's date, where the export leaves the expected date empty, is its close date (one
--   CloseDate column means "expected" while open and "actual" once closed).
-- Portable (DuckDB and Spark): open ends are 1900-01-01 00:00:00 and 9999-12-31 23:59:59 (no
--   infinity on Spark); the first change's old value is picked by row_number() (no arg_min_null).
with params as (
    select as_of
    from build_params
),

close_date_changes as (
    select
        c.source,
        c.deal_id,
        c.changed_at,
        try_cast(left(c.old_value, 10) as date) as old_date,
        try_cast(left(c.new_value, 10) as date) as new_date
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
    from close_date_changes
),

from_history as (
    select
        source,
        deal_id,
        changed_at as valid_from,
        coalesce(lead(changed_at) over w, timestamp '9999-12-31 23:59:59') as valid_until,
        new_date as expected_close_date
    from close_date_changes
    window w as (partition by source, deal_id order by changed_at)
    union all
    select
        source,
        deal_id,
        timestamp '1900-01-01 00:00:00' as valid_from,
        changed_at as valid_until,
        old_date as expected_close_date
    from close_date_changes
    qualify row_number() over (partition by source, deal_id order by changed_at) = 1
),

snapshots_by_as_of as (
    select
        s.source,
        s.deal_id,
        s.snapshot_at,
        coalesce(s.expected_close_date, cast(s.closed_at as date)) as expected_close_date
    from deal_snapshots as s
    cross join params as p
    left join changed_deals as c
        on s.source = c.source and s.deal_id = c.deal_id
    where s.snapshot_at <= p.as_of and c.deal_id is null
),

from_snapshots as (
    select
        source,
        deal_id,
        expected_close_date,
        case
            when row_number() over w = 1 then timestamp '1900-01-01 00:00:00' else snapshot_at
        end as valid_from,
        coalesce(lead(snapshot_at) over w, timestamp '9999-12-31 23:59:59') as valid_until
    from snapshots_by_as_of
    window w as (partition by source, deal_id order by snapshot_at)
),

snapshot_deals as (
    select distinct
        source,
        deal_id
    from snapshots_by_as_of
),

from_current as (
    select
        d.source,
        d.deal_id,
        timestamp '1900-01-01 00:00:00' as valid_from,
        timestamp '9999-12-31 23:59:59' as valid_until,
        coalesce(d.expected_close_date, cast(d.closed_at as date)) as expected_close_date
    from deals as d
    left join changed_deals as c
        on d.source = c.source and d.deal_id = c.deal_id
    left join snapshot_deals as s
        on d.source = s.source and d.deal_id = s.deal_id
    where c.deal_id is null and s.deal_id is null
)

select
    source,
    deal_id,
    valid_from,
    valid_until,
    expected_close_date,
    'history' as evidence
from from_history
union all
select
    source,
    deal_id,
    valid_from,
    valid_until,
    expected_close_date,
    'snapshot' as evidence
from from_snapshots
union all
select
    source,
    deal_id,
    valid_from,
    valid_until,
    expected_close_date,
    'current' as evidence
from from_current
