-- backtest_data_known: what the warehouse holds from up to each backtest origin, summed so that
-- restating that past changes it: a deal created, closed, re-amounted or deleted before the
-- origin, a stage entered or a snapshot recorded by then. A later backtest reuses
-- an origin's stored forecasts only while these sums (with build_params and stages) are the same.
-- Origins are month starts, so each core table is summed per month once; a moment t counts for an
-- origin when t <= origin, i.e. when the month of (t - 1 microsecond) is before the origin.
-- Grain: one row per origin of $origins and fact (facts with nothing before the origin are absent).
with monthly as (
    select
        'created' as fact,
        date_trunc('month', created_at - interval 1 microsecond) as month,
        count(*) as n,
        sum(epoch_ms(created_at)) as at_sum,
        0::hugeint as amount_sum
    from deals
    where created_at is not null
    group by all
    union all
    select
        'closed_' || status as fact,
        date_trunc('month', closed_at - interval 1 microsecond) as month,
        count(*) as n,
        sum(epoch_ms(closed_at)) as at_sum,
        sum(round(coalesce(amount_base, 0) * 100)::hugeint) as amount_sum
    from deals
    where status in ('won', 'lost') and closed_at is not null
    group by all
    union all
    select
        'stage_entered' as fact,
        date_trunc('month', entered_at - interval 1 microsecond) as month,
        count(*) as n,
        sum(epoch_ms(entered_at)) as at_sum,
        sum(stage_order)::hugeint as amount_sum
    from deal_stage_events
    where entered_at is not null
    group by all
    union all
    select
        'snapshot' as fact,
        date_trunc('month', snapshot_at - interval 1 microsecond) as month,
        count(*) as n,
        sum(epoch_ms(snapshot_at)) as at_sum,
        sum(round(coalesce(amount_base, 0) * 100)::hugeint) as amount_sum
    from deal_snapshots
    where snapshot_at is not null
    group by all
),

origins as (
    select unnest($origins::timestamp[]) as origin
)

select
    o.origin,
    m.fact,
    sum(m.n)::hugeint as n,
    sum(m.at_sum) as at_sum,
    sum(m.amount_sum)::hugeint as amount_sum
from origins as o
inner join monthly as m on o.origin > m.month
group by o.origin, m.fact
order by o.origin, m.fact
