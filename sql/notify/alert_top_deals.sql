-- alert_top_deals: what happened to the $deals largest open deals of base forecast run $previous
-- (by amount, imputed amounts left out) as the deals table has them now: 'lost'; or, still open,
-- 'pushed' (expected close date later than in the latest snapshot at or before that run's as_of)
-- and 'cut' (amount lower than the run's). A deal pushed and cut gives two rows.
-- Grain: one row per deal and what happened to it, largest previous amount first.
with previous_run as (
    select as_of from forecast_runs
    where run_id = $previous
),

top_deals as (
    select
        f.source,
        f.deal_id,
        f.amount_base as previous_amount
    from forecast_deals as f
    where f.run_id = $previous and f.amount_base > 0 and not coalesce(f.amount_imputed, false)
    qualify row_number() over (order by f.amount_base desc, f.source asc, f.deal_id asc) <= $deals
),

previous_close as (
    select
        s.source,
        s.deal_id,
        s.expected_close_date as previous_close_date
    from deal_snapshots as s
    inner join top_deals as t on s.source = t.source and s.deal_id = t.deal_id
    cross join previous_run as r
    where s.snapshot_at <= r.as_of
    qualify row_number() over (partition by s.source, s.deal_id order by s.snapshot_at desc) = 1
),

compared as (
    select
        t.source,
        t.deal_id,
        d.name,
        d.owner,
        t.previous_amount,
        d.amount_base as amount,
        p.previous_close_date,
        d.expected_close_date as close_date,
        d.status
    from top_deals as t
    inner join deals as d on t.source = d.source and t.deal_id = d.deal_id
    left join previous_close as p on t.source = p.source and t.deal_id = p.deal_id
),

happened as (
    select
        *,
        'lost' as what
    from compared
    where status = 'lost'
    union all
    select
        *,
        'pushed' as what
    from compared
    where status = 'open' and close_date > previous_close_date
    union all
    select
        *,
        'cut' as what
    from compared
    where status = 'open' and amount < previous_amount
)

select
    source,
    deal_id,
    name,
    owner,
    previous_amount,
    amount,
    previous_close_date,
    close_date,
    status,
    what
from happened
order by previous_amount desc, source asc, deal_id asc, what asc
