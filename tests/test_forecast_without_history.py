"""The forecast on exports without stage history: the deal-age model, the probability fallbacks,
amount imputation, and the shapes that used to crash or leave deals out.

The sample's generating process is known (simulator.py): its true win probability is in
truth.json, and its true cycle distribution is simulated here from the same process, with no
censoring. Hand-built warehouses check each rule with numbers worked out in the comments.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.errors import StepSkipped
from pipeline_analytics.forecast import BacktestSettings, EngineSettings, run_backtest
from pipeline_analytics.forecast.engine import forecast
from pipeline_analytics.forecast.outcomes import POOLED, deal_age_histories, win_incidence
from pipeline_analytics.forecast.timeseries import forecast_series
from pipeline_analytics.sample.shapes import ShapedExport, shape_config
from pipeline_analytics.sample.simulator import N_OPEN, _draw_population, _run_stage_process
from tests.conftest import SAMPLE_DIR
from tests.mart_fixtures import add_deal, add_stages, build_as_of, new_warehouse, rows


@pytest.fixture(scope="module")
def no_history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The bundled sample's deals file alone: current stage, engage and close dates, no history.
    folder = tmp_path_factory.mktemp("no_history")
    shutil.copy(SAMPLE_DIR / "deals.csv", folder / "deals.csv")
    export = ShapedExport(pl.read_csv(folder / "deals.csv", n_rows=1), history=None)
    config = folder / "pipeline.toml"
    config.write_text(shape_config("no_history", export, seed=7, simulations=10_000))
    db = folder / "w.duckdb"
    for command in ("ingest", "build"):
        assert main(["--config", str(config), "--db", str(db), "-q", command]) == 0
    return db


@pytest.fixture
def no_history(no_history_db: Path, tmp_path: Path):
    shutil.copy(no_history_db, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield con
    con.close()


@pytest.mark.slow
def test_deal_age_model_recovers_the_true_win_rate_and_cycle(no_history):
    ages = no_history.sql(
        "select pipeline, deal_type, outcome, age_at_as_of, days_to_close"
        " from int_forecast_deal_ages"
    ).pl()
    pooled = deal_age_histories(ages)[(ages["pipeline"][0], POOLED)]
    days = np.arange(0.0, 2000.0)
    fresh = win_incidence(pooled, 0.0, days)  # a deal at age 0: the whole history
    # The true chance that a new deal is won, solved exactly from the chain (truth.json). The
    # estimate rests on ~3,700 closed deals: binomial standard error sqrt(0.21 x 0.79 / 3700)
    # = 0.0067; 4 of them allowed.
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text())["true_win_rate"]
    assert fresh.cumulative[-1] == pytest.approx(truth, abs=0.027)
    # The true won cycles: 40,000 deals run through the same process with nothing cut off.
    rng = np.random.default_rng(2024)
    population = _draw_population(rng, 40_000, date(2020, 1, 1), 1)
    state = _run_stage_process(rng, population, horizon_days=6000.0)
    won = state.final_stage == N_OPEN + 1
    true_cycles = (state.last_event_days - population.created_days)[won]
    # The model's cycle distribution of won deals: F(t) / F(infinity). Its quartiles and 90th
    # percentile fall within 10 % of the true ones (about 68, 88, 115 and 148 days): open deals
    # are censored at their age, so the young ones do not shorten the estimate.
    share = fresh.cumulative / fresh.cumulative[-1]
    for q in (0.25, 0.5, 0.75, 0.9):
        estimated = days[np.searchsorted(share, q)]
        assert estimated == pytest.approx(np.quantile(true_cycles, q), rel=0.10), q


@pytest.mark.slow
def test_past_forecasts_without_history_track_what_was_booked(no_history):
    run_backtest(no_history, BacktestSettings())
    quarters = no_history.execute(
        "select origin, actual, p10, p50, p90 from forecast_backtest"
        " where method = 'engine' and horizon_months = 3"
    ).fetchall()
    assert len(quarters) == 16
    # Each next-quarter P50 within 25 % of what was then booked, and the actual inside P10-P90
    # at least 70 % of the time.
    for origin, actual, _, p50, _ in quarters:
        assert abs(p50 - actual) <= 0.25 * actual, origin
    inside = [p10 <= actual <= p90 for _, actual, p10, _, p90 in quarters]
    assert sum(inside) >= 0.7 * len(inside)


@pytest.mark.slow
def test_no_open_deal_is_left_out_at_a_past_moment(no_history):
    result = forecast(no_history, datetime(2026, 5, 1), EngineSettings(horizon_months=3, seed=1))
    # At a past moment an export without history does not even know the deals' stage then.
    assert result.deals["stage"].null_count() == result.deals.height > 100
    assert set(result.deals["basis"]) == {"deal_age"}
    assert (result.deals["win_probability"] > 0).all()


# --- Hand-built warehouses --------------------------------------------------------------------

AS_OF = datetime(2026, 3, 1)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def hand_warehouse(folder: Path) -> duckdb.DuckDBPyConnection:
    con = new_warehouse(folder)
    add_stages(con, 2)
    return con


def add_won(con, deal_id: str, *, amount: float | None, cycle_days: float, deal_type=None):
    closed = ago(100)
    add_deal(
        con,
        deal_id,
        created_at=closed - timedelta(days=cycle_days),
        status="won",
        closed_at=closed,
        amount_base=amount,
        deal_type=deal_type,
        snapshot_at=AS_OF,
    )


def deals_by_id(result) -> dict[str, dict]:
    return {row["deal_id"]: row for row in result.deals.iter_rows(named=True)}


@pytest.mark.slow
def test_missing_amounts_take_the_median_won_amount_of_similar_deals(tmp_path: Path):
    con = hand_warehouse(tmp_path)
    # 20 won 'Renewal' deals of 100, 200, ..., 2000 (median 1050) and 3 won 'New' of 10,000;
    # every cycle 20 days.
    for i in range(20):
        add_won(con, f"R{i}", amount=100.0 * (i + 1), cycle_days=20, deal_type="Renewal")
    for i in range(3):
        add_won(con, f"N{i}", amount=10_000.0, cycle_days=20, deal_type="New")
    add_deal(con, "L0", created_at=ago(130), status="lost", closed_at=ago(110), snapshot_at=AS_OF)
    # Open: a Renewal without amount (20 similar won deals: their median, 1050); a New without
    # amount (3 similar: too few, so every won deal's: 23 amounts, the 12th smallest = 1200);
    # one with an amount of its own.
    for deal_id, deal_type, amount in (("OR", "Renewal", None), ("ON", "New", None)):
        add_deal(
            con,
            deal_id,
            created_at=ago(5),
            stage_order=1,
            amount_base=amount,
            deal_type=deal_type,
            snapshot_at=AS_OF,
        )
    add_deal(con, "OK", created_at=ago(5), stage_order=1, amount_base=700.0, snapshot_at=AS_OF)
    build_as_of(con, AS_OF)
    settings = EngineSettings(horizon_months=2, simulations=2_000, seed=1)
    deals = deals_by_id(forecast(con, AS_OF, settings))
    assert (deals["OR"]["amount_base"], deals["OR"]["amount_imputed"]) == (1050.0, True)
    assert (deals["ON"]["amount_base"], deals["ON"]["amount_imputed"]) == (1200.0, True)
    assert (deals["OK"]["amount_base"], deals["OK"]["amount_imputed"]) == (700.0, False)
    # 23 won and 1 lost: too few outcomes for the deal-age model (30), no probability: the win
    # rate 23/24, and the expected value on the imputed amount.
    assert deals["OR"]["basis"] == "win_rate"
    assert deals["OR"]["expected_value_base"] == pytest.approx(1050.0 * 23 / 24)
    # Turned off, the deals keep no amount and add nothing.
    off = forecast(con, AS_OF, EngineSettings(2, 2_000, 1, impute_missing_amounts=False))
    assert deals_by_id(off)["OR"]["amount_base"] is None
    assert off.details["open_deals_without_amount"] == 2
    assert off.details["open_deals_amount_imputed"] == 0
    con.close()


@pytest.mark.slow
def test_deals_that_sat_long_without_closing_count_as_evidence(tmp_path: Path):
    con = hand_warehouse(tmp_path)
    # 20 deals won at 20 days and 20 lost at 60; 40 stale deals created 400-439 days ago and
    # never closed (nobody marks them lost).
    for i in range(20):
        add_won(con, f"W{i}", amount=100.0, cycle_days=20)
        add_deal(
            con,
            f"L{i}",
            created_at=ago(200),
            status="lost",
            closed_at=ago(140),
            amount_base=100.0,
            snapshot_at=AS_OF,
        )
    for i in range(40):
        add_deal(con, f"S{i}", created_at=ago(400 + i), amount_base=100.0, snapshot_at=AS_OF)
    for deal_id, age in (("OLD", 300), ("FRESH", 5)):
        add_deal(con, deal_id, created_at=ago(age), amount_base=1000.0, snapshot_at=AS_OF)
    build_as_of(con, AS_OF)
    deals = deals_by_id(forecast(con, AS_OF, EngineSettings(3, 2_000, seed=1)))
    # OLD, 300 days (age bucket from 252): no closed deal got that old, but the 40 stale ones
    # did and stayed open 148-187 days past it (90 or more counts): 40 informative outcomes, no
    # win -> 0, rather than the chance of a fresh deal.
    assert (deals["OLD"]["basis"], deals["OLD"]["win_probability"]) == ("deal_age", 0.0)
    # FRESH, 5 days: 81 deals got that old (40 closed, 40 stale, OLD); 20 won 15 days later,
    # in March -> 20/81.
    assert deals["FRESH"]["basis"] == "deal_age"
    assert deals["FRESH"]["win_probability"] == pytest.approx(20 / 81)
    assert deals["FRESH"]["expected_close_month"] == date(2026, 3, 1)
    con.close()


@pytest.mark.slow
def test_overdue_probability_deals_are_timed_by_the_won_cycles(tmp_path: Path):
    con = hand_warehouse(tmp_path)
    con.execute("update stages set default_probability = 0.4 where stage_order = 1")
    # Won cycles: 10 deals of 45 days, 10 of 75. No lost deal; 20 outcomes (under 30: no
    # deal-age model).
    for i in range(10):
        add_won(con, f"A{i}", amount=100.0, cycle_days=45)
        add_won(con, f"B{i}", amount=100.0, cycle_days=75)
    # Open, 30 days old, stage 1 (default probability 0.4), expected close long overdue.
    add_deal(
        con,
        "O",
        created_at=ago(30),
        stage_order=1,
        amount_base=1000.0,
        snapshot_at=AS_OF,
        expected_close_date=date(2025, 6, 30),
    )
    build_as_of(con, AS_OF)
    result = forecast(con, AS_OF, EngineSettings(horizon_months=3, simulations=20_000, seed=2))
    deal = deals_by_id(result)["O"]
    assert deal["basis"] == "crm"
    # Every won deal was still open at 30 days: half close 15 days later (March, the month of
    # as_of), half 45 days later (2026-04-15, April). 0.4 x 1/2 each; not all in March because
    # of the overdue date.
    march, april = result.open_pipeline[:, 0].mean(), result.open_pipeline[:, 1].mean()
    assert march == pytest.approx(200.0, abs=12)  # sd of the mean: 1000 x 0.42 / sqrt(20000)
    assert april == pytest.approx(200.0, abs=12)
    assert deal["win_probability"] == pytest.approx(0.4)
    con.close()


@pytest.mark.slow
def test_without_won_cycles_overdue_deals_spread_over_the_pipeline_turnover(tmp_path: Path):
    con = hand_warehouse(tmp_path)
    # As in a demo org, every deal was "created" on one day, after the won deals had closed: no
    # won cycle is known. 12 won deals closed one a week, the first 84 days before as_of: 1 / 7
    # closes a day.
    for k in range(1, 13):
        add_deal(
            con,
            f"W{k}",
            created_at=ago(0.5),
            status="won",
            closed_at=ago(7 * k),
            amount_base=100.0,
            snapshot_at=AS_OF,
        )
    # Six open deals at probability 0.5: five overdue, one expected on 2026-05-20 (month 3).
    # At that pace the pipeline closes in 6 x 7 = 42 days: each overdue deal is won evenly over
    # them, 31 / 42 of it in March (as_of is March's first instant) and the rest in April, not
    # all in March.
    for i in range(6):
        add_deal(
            con,
            f"O{i}",
            created_at=ago(0.5),
            stage_order=1,
            amount_base=1000.0,
            snapshot_at=AS_OF,
            expected_close_date=date(2026, 5, 20) if i == 5 else date(2025, 12, 1),
        )
    con.execute("update stages set default_probability = 0.5 where stage_order = 1")
    build_as_of(con, AS_OF)
    result = forecast(con, AS_OF, EngineSettings(horizon_months=3, simulations=20_000, seed=3))
    assert set(result.deals["basis"]) == {"crm"}
    # Means: March 5 x 1000 x 0.5 x 31/42 = 1845.2, April 5 x 1000 x 0.5 x 11/42 = 654.8, May
    # 1000 x 0.5 = 500 (sd of the mean at most sqrt(5 x 1000^2 x 0.25) / sqrt(20000) = 7.9).
    means = result.open_pipeline.mean(axis=0)
    assert means == pytest.approx([1845.2, 654.8, 500.0], abs=35)
    con.close()


@pytest.mark.slow
def test_without_any_lost_deal_a_probability_comes_first_and_the_rest_is_flagged(tmp_path: Path):
    con = hand_warehouse(tmp_path)
    con.execute("update stages set default_probability = 0.3 where stage_order = 1")
    # 40 won deals, no lost one (a report filtered on "won or open"): the history shows no loss.
    for i in range(40):
        add_won(con, f"W{i}", amount=100.0, cycle_days=20)
    add_deal(con, "P", created_at=ago(5), stage_order=1, amount_base=1000.0, snapshot_at=AS_OF)
    add_deal(con, "Q", created_at=ago(5), stage_order=2, amount_base=1000.0, snapshot_at=AS_OF)
    build_as_of(con, AS_OF)
    result = forecast(con, AS_OF, EngineSettings(horizon_months=2, simulations=2_000, seed=1))
    deals = deals_by_id(result)
    # P's stage has a probability (0.3): it is used rather than a history without losses, which
    # would say every deal of 5 days is won (40 of 40).
    assert (deals["P"]["basis"], deals["P"]["win_probability"]) == ("crm", pytest.approx(0.3))
    # Q has none: the deal-age model it is, where all 40 deals that got to 5 days were won -- and
    # the run says that may be overstated.
    assert (deals["Q"]["basis"], deals["Q"]["win_probability"]) == ("deal_age", pytest.approx(1.0))
    assert result.details["open_pipeline_caveat"] == (
        "the export has 40 won deals and no lost one, so the win chances of the 1 open deals "
        "forecast from history count no losses; export the closed-lost deals too, or set "
        "[pipeline] probabilities"
    )
    con.close()


@pytest.mark.slow
def test_no_open_deals_still_forecast_closed_and_new_pipeline(tmp_path: Path):
    con = hand_warehouse(tmp_path)
    for i in range(40):
        add_won(con, f"W{i}", amount=500.0, cycle_days=30)
    build_as_of(con, AS_OF)
    result = forecast(con, AS_OF, EngineSettings(horizon_months=3, simulations=500, seed=4))
    assert result.deals.height == 0
    assert not result.open_pipeline.any()
    assert result.details["open_deals_by_basis"] == {}
    con.close()


@pytest.mark.slow
def test_a_forecast_needs_a_closed_deal_and_an_amount(tmp_path: Path):
    con = hand_warehouse(tmp_path / "a")
    add_deal(con, "O", created_at=ago(5), stage_order=1, amount_base=100.0, snapshot_at=AS_OF)
    build_as_of(con, AS_OF)
    with pytest.raises(StepSkipped, match="no deal was won or lost by 2026-03-01"):
        forecast(con, AS_OF, EngineSettings(horizon_months=2, simulations=500, seed=1))
    con.close()
    con = hand_warehouse(tmp_path / "b")
    add_won(con, "W", amount=None, cycle_days=10)
    add_deal(con, "O", created_at=ago(5), stage_order=1, snapshot_at=AS_OF)
    build_as_of(con, AS_OF)
    with pytest.raises(StepSkipped, match="no deal known by 2026-03-01 has an amount"):
        forecast(con, AS_OF, EngineSettings(horizon_months=2, simulations=500, seed=1))
    assert rows(con, "select count(*) as n from forecast_runs") == [{"n": 0}]
    con.close()


def test_created_pipeline_bands_stay_sane_after_a_trickle_start():
    # A CRM set up mid-stream: 3 months of trickle, then 20 months around 50,000 with
    # month-to-month noise of 10 % (sd 5,000).
    rng = np.random.default_rng(5)
    steady = 50_000.0 * (1.0 + 0.1 * rng.standard_normal(20))
    values = np.r_[500.0, 3_000.0, 12_000.0, steady]
    result = forecast_series(values, date(2024, 1, 1), 3, 20_000, 9, with_theta=True)
    quarter = result.paths.sum(axis=1)
    mean = result.mean.sum()
    # 23 months: seasonal naive, each month as a year earlier (within the steady part).
    assert result.method == "seasonal_naive"
    assert mean == pytest.approx(values[-12:-9].sum())
    # Noise ~10 % a month: the quarter's P50 sits at its mean, and P10-P90 is about +-13 %
    # (the level, cv 0.1 / sqrt 3, and three months of a seasonal naive forecast, cv 0.1 x
    # sqrt 2 each: quarter cv = sqrt(0.1^2 / 3 + 2 x 0.1^2 / 3) = 10 %; +-1.28 cv). The old
    # multiplicative walk put P50 at 0.6x the mean and P10-P90 at 0.2x-2.2x on such a history.
    p10, p50, p90 = np.percentile(quarter, [10, 50, 90]) / mean
    assert p50 == pytest.approx(1.0, abs=0.03)
    assert 0.8 <= p10 <= 0.95
    assert 1.05 <= p90 <= 1.2
    assert quarter.mean() / mean == pytest.approx(1.0, abs=0.01)


def test_short_history_spread_uses_the_series_noise():
    # Six months alternating 9,000 and 11,000: level 10,000; the differences (+-2,000, three up
    # and two down) have sd 1,959.6 -> noise 1,959.6 / sqrt 2 / 10,000 = 0.1386 a month. The
    # forecast is the mean of the last three: (11,000 + 9,000 + 11,000) / 3.
    values = np.array([9_000.0, 11_000.0, 9_000.0, 11_000.0, 9_000.0, 11_000.0])
    result = forecast_series(values, date(2025, 1, 1), 2, 40_000, 3, with_theta=False)
    assert result.method == "recent_mean"
    assert result.mean[0] == pytest.approx(31_000.0 / 3)
    # A month = level (cv 0.1386 / sqrt 3 = 0.080) x month (cv 0.1386), independent, mean 1:
    # cv sqrt((1 + 0.080^2)(1 + 0.1386^2) - 1) = 0.160.
    month = result.paths[:, 0] / result.mean[0]
    assert np.std(month) == pytest.approx(0.160, abs=0.006)
    assert month.mean() == pytest.approx(1.0, abs=0.005)
