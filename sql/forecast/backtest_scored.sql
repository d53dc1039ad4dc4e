-- backtest_scored: every stored backtest forecast whose months have all ended by the build's
-- as_of, beside what was actually booked in them (mart_kpis_monthly; a month without a row
-- booked nothing). Recomputed on every backtest, so stored forecasts are scored against the
-- actuals known now, and a horizon whose last month has since ended joins the score.
-- Grain: origin x horizon_months x method, of origins that were scored.
with windows as (
    select
        f.origin,
        f.horizon_months,
        f.method,
        f.forecast_mean,
        f.p10,
        f.p50,
        f.p90
    from forecast_backtest_forecasts as f
    inner join forecast_backtest_origins as o on f.origin = o.origin
    cross join build_params as bp
    where o.scored and f.origin + to_months(f.horizon_months) <= bp.as_of
)

select
    w.origin,
    w.horizon_months,
    w.method,
    w.forecast_mean,
    w.p10,
    w.p50,
    w.p90,
    coalesce(sum(k.won_amount_base), 0) as actual
from windows as w
left join mart_kpis_monthly as k
    on
        w.origin <= k.month
        and k.month < w.origin + to_months(w.horizon_months)
group by all
order by w.origin, w.horizon_months, w.method
