-- mart_time_to_close: days from creation to close, as the report's "time to close" shows them:
-- the trailing window's medians and how its histogram is binned (the counts per bin are in
-- mart_time_to_close_bins), and how many closed deals lack a creation date.
-- Grain: one row.
-- closed_deals, closed_without_created_at: the deals of mart_deal_cycle (closed by as_of with a
--   known close date), and those of them without created_at (left out of every cycle figure).
-- The trailing window, as in mart_kpis: won and lost deals with
--   as_of - lookback_days < closed_at <= as_of. binned_deals: those with a cycle (cycle_days >= 0);
--   excluded_deals: those without (closed before created, or no creation date).
-- won_median_days, lost_median_days: the median cycle_days of the binned won / lost deals.
-- upper_days: the 99th percentile (interpolated) of the binned deals' cycle_days.
-- bin_width_days: the smallest of 1, 2, 3, 7, 14, 30, 60, 90, 180 and 365 days (else a whole
--   number of years) giving at most 24 bins up to upper_days: widths a reader takes in at a glance.
-- bins: the histogram's bins, ceil(upper_days / bin_width_days) (at least 1), plus an open-ended
--   last bin (open_ended_last_bin) when some deal lies at or beyond their end; that bin holds
--   every deal from its start on. Bin i covers [i, i + 1) x bin_width_days.
-- bin_width_days, bins and open_ended_last_bin are NULL when no deal is binned.
with closed_in_window as (
    select
        c.status,
        c.cycle_days,
        c.cycle_days >= 0 as has_cycle
    from mart_deal_cycle as c
    cross join build_params as p
    where
        c.status in ('won', 'lost')
        and c.closed_at > p.as_of - interval 1 day * p.lookback_days
        and c.closed_at <= p.as_of
),

window_cycles as (
    select
        count(*) filter (where has_cycle) as binned_deals,
        count(*) filter (where has_cycle is not true) as excluded_deals,
        quantile_cont(cycle_days, 0.5) filter (where has_cycle and status = 'won')
            as won_median_days,
        quantile_cont(cycle_days, 0.5) filter (where has_cycle and status = 'lost')
            as lost_median_days,
        quantile_cont(cycle_days, 0.99) filter (where has_cycle) as upper_days,
        max(cycle_days) filter (where has_cycle) as longest_days
    from closed_in_window
),

readable_widths as (
    select w.width_days
    from (values (1), (2), (3), (7), (14), (30), (60), (90), (180), (365)) as w (width_days)
),

bin_widths as (
    select
        any_value(wc.upper_days) as upper_days,
        any_value(wc.longest_days) as longest_days,
        coalesce(
            min(rw.width_days),
            365 * ceil(any_value(wc.upper_days) / 24 / 365)::integer
        ) as bin_width_days
    from window_cycles as wc
    left join readable_widths as rw on rw.width_days >= wc.upper_days / 24
    where wc.binned_deals > 0
),

bin_ends as (
    select
        bin_width_days,
        greatest(1, ceil(upper_days / bin_width_days))::integer as last_bin,
        floor(longest_days / bin_width_days) >= greatest(1, ceil(upper_days / bin_width_days))
            as open_ended_last_bin
    from bin_widths
    where bin_width_days is not null
),

closed_deals as (
    select
        count(*) as closed_deals,
        count(*) filter (where created_at is null) as closed_without_created_at
    from mart_deal_cycle
)

select
    cd.closed_deals,
    cd.closed_without_created_at,
    wc.binned_deals,
    wc.excluded_deals,
    wc.won_median_days,
    wc.lost_median_days,
    wc.upper_days,
    be.bin_width_days,
    be.open_ended_last_bin,
    be.last_bin + case when be.open_ended_last_bin then 1 else 0 end as bins
from window_cycles as wc
cross join closed_deals as cd
left join bin_ends as be on true
