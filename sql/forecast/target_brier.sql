-- target_brier: P(hit) scored on the backtest. At every stored origin and horizon of $method with a
-- band, three targets are set at its P10, P50 and P90 (the band scaled around P50 by $scale, as the
-- headline's is), which the forecast gives P(hit) 0.9, 0.5 and 0.1; the event is actual >= target.
-- Grain: band_level ('p10', 'p50', 'p90'). forecasts: scored rows; hit_rate: share of them hit;
-- brier: mean of (predicted - hit)^2, hit 1 or 0 (0 is perfect; always saying 0.5 scores 0.25).
with levels as (
    select
        b.actual,
        l.band_level,
        l.predicted,
        case l.band_level
            when 'p10' then b.p50 - $scale * (b.p50 - b.p10)  -- noqa: RF02
            when 'p50' then b.p50
            else b.p50 + $scale * (b.p90 - b.p50)  -- noqa: RF02
        end as target_amount
    from forecast_backtest as b
    cross join
        (values ('p10', 0.9), ('p50', 0.5), ('p90', 0.1)) as l (band_level, predicted)
    where
        b.method = $method  -- noqa: RF02
        and b.p10 is not null
        and b.p50 is not null
        and b.p90 is not null
),

scored as (
    select
        band_level,
        predicted,
        case when actual >= target_amount then 1.0 else 0.0 end as hit
    from levels
)

select
    band_level,
    predicted,
    count(*) as forecasts,
    avg(hit) as hit_rate,
    avg((predicted - hit) * (predicted - hit)) as brier
from scored
group by band_level, predicted
order by predicted desc
