-- change_causes: why the engine's P50 of one period ($period_kind starting $period_start, ending
-- before $period_end) moved from run $previous to run $run, by cause. Each deal of either run
-- (forecast_deal_periods) takes one cause, first that applies:
--   new: not in run $previous (open nor closed then): its expected value now;
--   removed: in run $previous, in run $run neither open nor closed (gone from the export): minus
--     its expected value then;
--   won / lost: open then, closed since: what it books in the period now (its amount if won in
--     the period, else nothing) minus its expected value then;
--   pushed / pulled: open in both, its expected close date moved across the period's boundary,
--     later (pushed) or earlier (pulled): its whole change of expected value in the period;
--   amount: its amount changed: (amount now - amount then) x its chance in the period then; the
--     rest of its change is the model's;
--   model: everything else (same deals, new estimates).
-- not_yet_created: the change of the mean of the pipeline not yet created (component
-- new_pipeline). model is the residual: the P50 change minus every other part, so the parts add
-- up to the P50 change; it holds the re-estimated chances of the deals in both runs
-- (`reestimated`), the move of the median against the mean, and sampling noise.
-- Grain: cause (new, won, lost, removed, pushed, pulled, amount, not_yet_created, model), with
-- both runs' P50 of the period on every row (NULL when a run did not forecast the period), and
-- the deals open in both runs (continuing_deals) of which undated_deals lack an expected close
-- date in either run: whether those crossed the period's edge cannot be told.
with totals as (
    select
        max(p50) filter (where run_id = $previous and component = 'total') as p50_previous,
        max(p50) filter (where run_id = $run and component = 'total') as p50_now,
        coalesce(max(mean) filter (where run_id = $run and component = 'new_pipeline'), 0)
        - coalesce(
            max(mean) filter (where run_id = $previous and component = 'new_pipeline'), 0
        ) as not_yet_created
    from forecast_periods
    where
        (run_id = $run or run_id = $previous)
        and period = $period_kind
        and period_start = $period_start
),

statuses as (
    select
        source,
        deal_id,
        any_value(status) filter (where run_id = $previous) as status_before,
        any_value(status) filter (where run_id = $run) as status_now
    from forecast_deal_periods
    where run_id = $run or run_id = $previous
    group by source, deal_id
),

in_period as (
    select
        source,
        deal_id,
        any_value(amount_base) filter (where run_id = $previous) as amount_before,
        any_value(amount_base) filter (where run_id = $run) as amount_now,
        any_value(expected_close_date) filter (where run_id = $previous) as close_before,
        any_value(expected_close_date) filter (where run_id = $run) as close_now,
        coalesce(any_value(win_probability) filter (where run_id = $previous), 0) as chance_before,
        coalesce(sum(expected_value_base) filter (where run_id = $previous), 0) as value_before,
        coalesce(sum(expected_value_base) filter (where run_id = $run), 0) as value_now
    from forecast_deal_periods
    where
        (run_id = $run or run_id = $previous)
        and period_kind = $period_kind
        and period_start = $period_start
    group by source, deal_id
),

deal_moves as (
    select
        s.status_before,
        s.status_now,
        p.close_before,
        p.close_now,
        s.status_before = 'open' and s.status_now = 'open' as continuing,
        p.close_before is null or p.close_now is null as undated,
        coalesce(
            p.amount_now != p.amount_before, (p.amount_now is null) != (p.amount_before is null)
        ) as amount_changed,
        coalesce(p.value_now, 0) - coalesce(p.value_before, 0) as delta,
        (coalesce(p.amount_now, 0) - coalesce(p.amount_before, 0))
        * coalesce(p.chance_before, 0) as amount_part,
        -- noqa: disable=RF02
        p.close_before >= $period_start and p.close_before < $period_end as inside_before,
        p.close_now >= $period_start and p.close_now < $period_end as inside_now
        -- noqa: enable=RF02
    from statuses as s
    left join in_period as p on s.source = p.source and s.deal_id = p.deal_id
),

caused as (
    select
        delta,
        amount_part,
        case
            when status_before is null then 'new'
            when status_now is null then 'removed'
            when status_before = 'open' and status_now in ('won', 'lost') then status_now
            when
                status_before = 'open' and status_now = 'open'
                and coalesce(inside_before != inside_now, false)
                then case when close_now > close_before then 'pushed' else 'pulled' end
            when status_before = status_now and amount_changed then 'amount'
            else 'model'
        end as cause
    from deal_moves
),

caused_parts as (
    select
        cause,
        delta,
        amount_part,
        case
            when cause = 'amount' then amount_part
            when cause = 'model' then 0
            else delta
        end as part
    from caused
),

parts as (
    select
        cause,
        count(*) filter (where cause in ('pushed', 'pulled') or part != 0) as deals,
        sum(part) as delta
    from caused_parts
    where cause != 'model'
    group by cause
),

reestimates as (
    select coalesce(sum(delta - part), 0) as reestimated
    from caused_parts
    where cause in ('amount', 'model')
),

dating as (
    select
        count(*) filter (where continuing) as continuing_deals,
        count(*) filter (where continuing and undated) as undated_deals
    from deal_moves
),

explained as (
    select coalesce(sum(delta), 0) as delta
    from parts
),

rows_by_cause as (
    select
        p.cause,
        p.deals,
        p.delta
    from parts as p
    union all
    select
        'not_yet_created' as cause,
        null as deals,
        t.not_yet_created as delta
    from totals as t
    union all
    select
        'model' as cause,
        null as deals,
        t.p50_now - t.p50_previous - e.delta - t.not_yet_created as delta
    from totals as t
    cross join explained as e
)

select
    c.cause,
    c.deals,
    c.delta,
    t.p50_previous,
    t.p50_now,
    r.reestimated,
    d.continuing_deals,
    d.undated_deals
from rows_by_cause as c
cross join totals as t
cross join reestimates as r
cross join dating as d
order by
    case c.cause
        when 'new' then 1 when 'won' then 2 when 'lost' then 3 when 'removed' then 4
        when 'pushed' then 5 when 'pulled' then 6 when 'amount' then 7
        when 'not_yet_created' then 8 else 9
    end
