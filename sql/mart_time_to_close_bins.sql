-- mart_time_to_close_bins: the histogram of days from creation to close of the deals closed in the
-- trailing window, binned as mart_time_to_close says.
-- Grain: status (won, lost) x bin holding at least one deal.
-- The deals: won and lost deals with as_of - lookback_days < closed_at <= as_of and a cycle
--   (cycle_days >= 0, mart_deal_cycle), the binned_deals of mart_time_to_close.
-- bin: 0 for the first; a deal falls in floor(cycle_days / bin_width_days), or in the last bin
--   (mart_time_to_close.bins - 1) when beyond it. bin_start_days = bin x bin_width_days.
-- deals: the deals of the status in the bin.
with binned as (
    select
        c.status,
        t.bin_width_days,
        least(floor(c.cycle_days / t.bin_width_days), t.bins - 1)::integer as bin
    from mart_deal_cycle as c
    cross join build_params as p
    cross join mart_time_to_close as t
    where
        c.status in ('won', 'lost')
        and c.closed_at > p.as_of - interval 1 day * p.lookback_days
        and c.closed_at <= p.as_of
        and c.cycle_days >= 0
)

select
    status,
    bin,
    bin * bin_width_days as bin_start_days,
    count(*) as deals
from binned
group by status, bin, bin_width_days
order by status, bin
