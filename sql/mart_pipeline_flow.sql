-- mart_pipeline_flow: how the open pipeline moved between two points in time, as an exact bridge.
-- Grain: source x basis x period (period_start, period_end].
-- basis 'snapshot': between consecutive snapshots of the source taken by as_of (the snapshot_at
--   of its deals exports, deal_snapshots). basis 'month_end': between consecutive calendar month
--   ends, rebuilt from created and close dates, from the month before the source's first created
--   deal through as_of's month (its end cut at as_of), like the months of mart_kpis_monthly.
-- A deal's state at time t, using only what was known at as_of (int_deals_as_of): open if created
--   by t (or created_at unknown) and not closed by t. Its amount: amount_base of its latest
--   snapshot taken by t; before its first snapshot, that first snapshot's; never exported by
--   as_of, its current amount. Its expected close date: from deal_changes when they record
--   close-date changes (field expected_close_date, close_date or closedate) by as_of: the new
--   value of the latest change by t, else the old value of the first change after t; otherwise
--   from snapshots like the amount.
-- Amounts are rounded to cents (DECIMAL(38,2)) so the bridge is exact; a missing amount counts 0.
-- open_start, open_end (and _deals): the deals open at period_start, at period_end.
-- created (created_deals): deals created in the period, at their period_end amount.
-- amount_up, amount_down: for deals open at period_start, the rise or fall of their amount from
--   period_start to period_end, including changes up to the close of those that closed.
-- won, lost (won_deals, lost_deals): deals closed won / lost in the period, at their period_end
--   amount. The bridge: open_start + created + amount_up - amount_down - won - lost = open_end,
--   and open_start_deals + created_deals - won_deals - lost_deals = open_end_deals, exactly.
-- pushed_out, pulled_in (and _deals): amount at period_end of the deals open at both ends whose
--   expected close date moved later / earlier (both dates known); not part of the bridge.
with params as (
    select as_of
    from build_params
),

snapshot_times as (
    select distinct
        s.source,
        'snapshot' as basis,
        s.snapshot_at as checkpoint_at
    from deal_snapshots as s
    cross join params as p
    where s.snapshot_at <= p.as_of
),

source_months as (
    select
        d.source,
        unnest(generate_series(
            date_trunc('month', min(d.created_at)) - interval 1 month,
            date_trunc('month', any_value(p.as_of)),
            interval 1 month
        )) as month_start
    from int_deals_as_of as d
    cross join params as p
    group by d.source
),

month_end_times as (
    select
        m.source,
        'month_end' as basis,
        least(m.month_start + interval 1 month - interval 1 microsecond, p.as_of) as checkpoint_at
    from source_months as m
    cross join params as p
),

periods as (
    select
        source,
        basis,
        checkpoint_at as period_end,
        lag(checkpoint_at) over (
            partition by source, basis order by checkpoint_at
        ) as period_start
    from (
        select * from snapshot_times
        union all
        select * from month_end_times
    ) as checkpoints
    qualify period_start is not null
),

-- Every deal that was open at some point of (period_start, period_end]: open at its start,
-- created in it, or both; each is open at the end or closed in the period.
period_deals as (
    select
        pe.source,
        pe.basis,
        pe.period_start,
        pe.period_end,
        d.deal_id,
        d.status,
        d.known_from <= pe.period_start as open_at_start,
        d.open_until > pe.period_end as open_at_end
    from periods as pe
    inner join int_deals_as_of as d
        on
            pe.source = d.source
            and pe.period_end >= d.known_from
            and pe.period_start < d.open_until
),

deal_times as (
    select
        source,
        deal_id,
        period_start as valued_at
    from period_deals
    union
    select
        source,
        deal_id,
        period_end as valued_at
    from period_deals
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

first_snapshots as (
    select
        s.source,
        s.deal_id,
        s.amount_base,
        s.expected_close_date
    from deal_snapshots as s
    cross join params as p
    where s.snapshot_at <= p.as_of
    qualify row_number() over (
        partition by s.source, s.deal_id order by s.snapshot_at, s.batch_id
    ) = 1
),

deal_values as (
    select
        t.source,
        t.deal_id,
        t.valued_at,
        coalesce(round(
            case
                when s.snapshot_at is not null then s.amount_base
                when fs.deal_id is not null then fs.amount_base
                else d.amount_base
            end, 2
        ), 0)::decimal(38, 2) as amount,
        case
            when cb.changed_at is not null then cb.new_date
            when ca.changed_at is not null then ca.old_date
            when s.snapshot_at is not null then s.expected_close_date
            when fs.deal_id is not null then fs.expected_close_date
            else d.expected_close_date
        end as expected_close_date
    from deal_times as t
    inner join int_deals_as_of as d
        on t.source = d.source and t.deal_id = d.deal_id
    left join first_snapshots as fs
        on t.source = fs.source and t.deal_id = fs.deal_id
    asof left join deal_snapshots as s
        on t.source = s.source and t.deal_id = s.deal_id and t.valued_at >= s.snapshot_at
    asof left join close_date_changes as cb
        on t.source = cb.source and t.deal_id = cb.deal_id and t.valued_at >= cb.changed_at
    asof left join close_date_changes as ca
        on t.source = ca.source and t.deal_id = ca.deal_id and t.valued_at < ca.changed_at
),

deal_flows as (
    select
        pd.*,
        v0.amount as amount_start,
        v1.amount as amount_end,
        v0.expected_close_date as close_date_start,
        v1.expected_close_date as close_date_end
    from period_deals as pd
    inner join deal_values as v0
        on pd.source = v0.source and pd.deal_id = v0.deal_id and pd.period_start = v0.valued_at
    inner join deal_values as v1
        on pd.source = v1.source and pd.deal_id = v1.deal_id and pd.period_end = v1.valued_at
)

select
    pe.source,
    pe.basis,
    pe.period_start,
    pe.period_end,
    coalesce(sum(f.amount_start) filter (where f.open_at_start), 0) as open_start,
    coalesce(sum(f.amount_end) filter (where not f.open_at_start), 0) as created,
    coalesce(sum(f.amount_end - f.amount_start) filter (
        where f.open_at_start and f.amount_end > f.amount_start
    ), 0) as amount_up,
    coalesce(sum(f.amount_start - f.amount_end) filter (
        where f.open_at_start and f.amount_end < f.amount_start
    ), 0) as amount_down,
    coalesce(sum(f.amount_end) filter (
        where not f.open_at_end and f.status = 'won'
    ), 0) as won,
    coalesce(sum(f.amount_end) filter (
        where not f.open_at_end and f.status = 'lost'
    ), 0) as lost,
    coalesce(sum(f.amount_end) filter (where f.open_at_end), 0) as open_end,
    coalesce(sum(f.amount_end) filter (
        where f.open_at_start and f.open_at_end and f.close_date_end > f.close_date_start
    ), 0) as pushed_out,
    coalesce(sum(f.amount_end) filter (
        where f.open_at_start and f.open_at_end and f.close_date_end < f.close_date_start
    ), 0) as pulled_in,
    count(f.deal_id) filter (where f.open_at_start) as open_start_deals,
    count(f.deal_id) filter (where not f.open_at_start) as created_deals,
    count(f.deal_id) filter (where not f.open_at_end and f.status = 'won') as won_deals,
    count(f.deal_id) filter (where not f.open_at_end and f.status = 'lost') as lost_deals,
    count(f.deal_id) filter (where f.open_at_end) as open_end_deals,
    count(f.deal_id) filter (
        where f.open_at_start and f.open_at_end and f.close_date_end > f.close_date_start
    ) as pushed_out_deals,
    count(f.deal_id) filter (
        where f.open_at_start and f.open_at_end and f.close_date_end < f.close_date_start
    ) as pulled_in_deals
from periods as pe
left join deal_flows as f
    on
        pe.source = f.source
        and pe.basis = f.basis
        and pe.period_start = f.period_start
        and pe.period_end = f.period_end
group by pe.source, pe.basis, pe.period_start, pe.period_end
order by pe.source, pe.basis, pe.period_start
