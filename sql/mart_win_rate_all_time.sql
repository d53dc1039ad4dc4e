-- mart_win_rate_all_time: won and lost over every deal closed by as_of, whenever it closed,
-- for the whole export and per owner and per lead source. What an export without close dates (a
-- win/loss extract) can still tell: mart_kpis counts only deals closed at a known time in its
-- window, this counts them all, so it has no window and no trend.
-- Grain: dimension x dimension_value; dimension 'all' (dimension_value 'all'), 'owner' or
-- 'lead_source' (a missing value is '(none)'); a value has a row when it has a closed deal, 'all'
-- always has one.
-- won_deals, lost_deals: deals of int_deals_as_of with status won / lost (closed by as_of, or at
--   an unknown time). won_amount_base, lost_amount_base: their amount_base summed (deals without
--   one add nothing). win_rate = won / (won + lost); win_rate_amount = won amount / (won + lost
--   amount); avg_won_size: won amount / won deals with an amount; NULL with an empty denominator.
-- closed_without_date: of those closed deals, how many have no close date (they are in no window
--   of mart_kpis).
-- Portable (DuckDB and Spark): each deal's cuts are rows of a union, not a struct->map cast and
--   unnest.
with closed_deals as (
    select
        status,
        closed_at,
        amount_base::decimal(38, 6) as exact_amount,
        coalesce(owner, '(none)') as owner,
        coalesce(lead_source, '(none)') as lead_source
    from int_deals_as_of
    where status in ('won', 'lost')
),

cut_rows as (
    select
        status,
        closed_at,
        exact_amount,
        'all' as dimension,
        'all' as dimension_value
    from closed_deals

    union all

    select
        status,
        closed_at,
        exact_amount,
        'owner' as dimension,
        owner as dimension_value
    from closed_deals

    union all

    select
        status,
        closed_at,
        exact_amount,
        'lead_source' as dimension,
        lead_source as dimension_value
    from closed_deals
),

totals as (
    select
        dimension,
        dimension_value,
        count(*) filter (where status = 'won') as won_deals,
        count(*) filter (where status = 'lost') as lost_deals,
        coalesce(sum(exact_amount) filter (where status = 'won'), 0)::double as won_amount_base,
        coalesce(sum(exact_amount) filter (where status = 'lost'), 0)::double as lost_amount_base,
        count(exact_amount) filter (where status = 'won') as won_sized_deals,
        count(*) filter (where closed_at is null) as closed_without_date
    from cut_rows
    group by dimension, dimension_value

    union all

    -- an export with no closed deal still has its 'all' row, of zeros
    select  -- noqa: ST06
        'all' as dimension,
        'all' as dimension_value,
        0 as won_deals,
        0 as lost_deals,
        0 as won_amount_base,
        0 as lost_amount_base,
        0 as won_sized_deals,
        0 as closed_without_date
    where not exists (select 1 from closed_deals)
)

select
    dimension,
    dimension_value,
    won_deals,
    lost_deals,
    won_amount_base,
    lost_amount_base,
    closed_without_date,
    won_deals / nullif(won_deals + lost_deals, 0) as win_rate,
    won_amount_base / nullif(won_amount_base + lost_amount_base, 0) as win_rate_amount,
    won_amount_base / nullif(won_sized_deals, 0) as avg_won_size
from totals
order by dimension, dimension_value
