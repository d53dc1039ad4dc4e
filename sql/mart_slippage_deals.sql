-- mart_slippage_deals: every deal open at as_of with its history of pushes and its chance of
-- being pushed again. Grain: source x deal_id (deals open at as_of).
-- push_count: moves of its expected close date to a later date (int_close_date_moves, pushed);
--   days_pushed: their total days; last_pushed_at: the latest.
-- slip_probability: of the deals closed by as_of that had been pushed at least push_count times,
--   the share pushed at least once more before they closed: how often a deal with this many
--   pushes slipped again. NULL when fewer than min_deals (20) such closed deals exist
--   (enough_history = false); basis_deals is how many there were.
-- source_has_history: the source shows close-date moves at all (close-date changes in its history,
--   or deals in two or more of its exports); without it push counts are 0 by lack of evidence,
--   not by fact, and the report says so.
-- name, owner, stage, amount_base, expected_close_date: as of as_of (int_deals_as_of).
-- Portable (DuckDB and Spark).
with push_counts as (
    select
        source,
        deal_id,
        cast(sum(days_moved) as bigint) as days_pushed,
        count(*) as push_count,
        max(moved_at) as last_pushed_at
    from int_close_date_moves
    where pushed
    group by source, deal_id
),

deal_pushes as (
    select
        d.source,
        d.deal_id,
        d.status,
        p.last_pushed_at,
        coalesce(p.push_count, 0) as push_count,
        coalesce(p.days_pushed, 0) as days_pushed
    from int_deals_as_of as d
    left join push_counts as p
        on d.source = p.source and d.deal_id = p.deal_id
),

closed_counts as (
    select
        source,
        push_count,
        count(*) as deals
    from deal_pushes
    where status <> 'open'
    group by source, push_count
),

push_levels as (
    select distinct
        source,
        push_count
    from deal_pushes
),

-- For each source and push count k: closed deals pushed at least k times, and at least k + 1.
at_least as (
    select
        k.source,
        k.push_count,
        sum(c.deals) as basis_deals,
        coalesce(sum(c.deals) filter (where c.push_count > k.push_count), 0) as pushed_again
    from push_levels as k
    inner join closed_counts as c
        on k.source = c.source and k.push_count <= c.push_count
    group by k.source, k.push_count
),

sources_with_history as (
    select distinct source from int_close_date_moves
    union
    select source
    from deal_snapshots
    group by source, deal_id
    having count(*) > 1
),

open_deals as (
    select
        d.source,
        d.deal_id,
        n.name,
        d.stage,
        d.amount_base,
        d.expected_close_date,
        coalesce(d.owner, '(none)') as owner
    from int_deals_as_of as d
    inner join deals as n
        on d.source = n.source and d.deal_id = n.deal_id
    where d.status = 'open'
)

select
    o.source,
    o.deal_id,
    o.name,
    o.owner,
    o.stage,
    o.amount_base,
    o.expected_close_date,
    p.push_count,
    p.days_pushed,
    p.last_pushed_at,
    cast(coalesce(a.basis_deals, 0) as bigint) as basis_deals,
    20 as min_deals,
    coalesce(a.basis_deals, 0) >= 20 as enough_history,
    case
        when a.basis_deals >= 20 then a.pushed_again / cast(a.basis_deals as double)
    end as slip_probability,
    h.source is not null as source_has_history
from open_deals as o
inner join deal_pushes as p
    on o.source = p.source and o.deal_id = p.deal_id
left join at_least as a
    on p.source = a.source and p.push_count = a.push_count
left join sources_with_history as h
    on o.source = h.source
