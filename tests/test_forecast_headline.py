"""The headline is the method the backtest says has earned it, with a band sized by its errors.

The decision rule and the recalibration run on hand-built backtest rows whose WAPE and coverage
are worked out in the comments; the stored `headline` component on the small warehouse of
test_forecast.py, with hand-built forecast_backtest rows.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.errors import StepSkipped
from pipeline_analytics.forecast import EngineSettings, run_forecast
from pipeline_analytics.forecast.backtest import BacktestSettings, run_backtest
from pipeline_analytics.forecast.baselines import Bookings, Quantiles
from pipeline_analytics.forecast.calendar import add_months
from pipeline_analytics.forecast.selection import (
    BacktestRow,
    BandScale,
    Headline,
    choose,
    choose_headline,
    combination_rows,
    headline_bookings,
    recalibrate,
)
from tests.mart_fixtures import add_deal, rows
from tests.test_forecast import build_hand_warehouse, open_copy

ALL = ("engine", "run_rate", "seasonal_naive", "ets_bookings", "crm_weighted")
ORIGINS = [datetime(2025, month, 1) for month in range(5, 11)]  # 6 origins, May to October 2025


def forecasts(method: str, errors: list[float], origins: list[datetime] = ORIGINS) -> list:
    """Rows at horizons 1-3 whose P50 misses the actual (100 x h) by errors[origin] x actual.

    With the same actual at every origin, a method's WAPE at each horizon is the mean |error|.
    """
    found = []
    for i, origin in enumerate(origins):
        for h in (1, 2, 3):
            actual = 100.0 * h
            p50 = actual * (1 + errors[i % len(errors)])
            found.append(BacktestRow(origin, h, method, actual, p50, p50 - 10, p50, p50 + 10))
    return found


def test_engine_leads_when_it_beats_every_baseline():
    backtest_rows = [
        *forecasts("engine", [0.10]),
        *forecasts("run_rate", [0.15]),
        *forecasts("ets_bookings", [0.30]),
        *forecasts("crm_weighted", [-0.50]),
        # Perfect, but at two origins only: too few to be judged by.
        *forecasts("seasonal_naive", [0.0], ORIGINS[:2]),
    ]
    choice = choose(backtest_rows, ALL)
    assert (choice.method, choice.reason_code) == ("engine", "engine_best")
    assert "run_rate 15.0%" in choice.reason  # the best baseline scored, beside the engine


def test_best_baseline_leads_when_the_combination_does_not_beat_it():
    # Every method over-forecasts: the median of engine (+30 %), run_rate (+10 %) and
    # ets_bookings (+20 %) is ets_bookings' +20 %, worse than run_rate alone.
    backtest_rows = [
        *forecasts("engine", [0.30]),
        *forecasts("run_rate", [0.10]),
        *forecasts("ets_bookings", [0.20]),
        *forecasts("seasonal_naive", [0.25]),
        *forecasts("crm_weighted", [0.50]),
    ]
    choice = choose(backtest_rows, ALL)
    assert (choice.method, choice.reason_code) == ("run_rate", "baseline_best")
    # A method the forecast at hand lacks cannot lead; the combination needs run_rate too.
    without_run_rate = choose(backtest_rows, [m for m in ALL if m != "run_rate"])
    assert (without_run_rate.method, without_run_rate.reason_code) == (
        "ets_bookings",
        "baseline_best",
    )


def test_combination_leads_when_it_beats_the_best_baseline():
    # Errors by origin, cycling A, B, C:      A      B      C    mean |error|
    #   engine                             +0.05  +0.40  -0.40   0.283
    #   run_rate                           +0.30  -0.05  +0.30   0.217  (best baseline)
    #   ets_bookings                       -0.30  -0.40  +0.05   0.250  (second best)
    #   median of the three                +0.05  -0.05  +0.05   0.050
    backtest_rows = [
        *forecasts("engine", [0.05, 0.40, -0.40]),
        *forecasts("run_rate", [0.30, -0.05, 0.30]),
        *forecasts("ets_bookings", [-0.30, -0.40, 0.05]),
        *forecasts("seasonal_naive", [0.50]),
        *forecasts("crm_weighted", [0.60]),
    ]
    choice = choose(backtest_rows, ALL)
    assert (choice.method, choice.reason_code) == ("combination", "combination_best")
    assert choice.combined == ("run_rate", "ets_bookings")
    combined = combination_rows(backtest_rows)
    assert len(combined) == 18  # 6 origins x 3 horizons
    first = combined[0]  # origin A, horizon 1: actual 100; P50s 105, 130, 70 -> 105
    assert (first.method, first.p50, first.p10, first.p90) == ("combination", 105.0, 95.0, 115.0)


def test_engine_leads_without_enough_origins_to_judge():
    two_origins = [
        *forecasts("engine", [0.50], ORIGINS[:2]),
        *forecasts("run_rate", [0.0], ORIGINS[:2]),
    ]
    choice = choose(two_origins, ALL)
    assert (choice.method, choice.reason_code) == ("engine", "too_few_origins")
    assert (choose([], ALL).method, choose([], ALL).reason_code) == ("engine", "no_backtest")


def band_rows(misses: list[float], low: float = 20.0, high: float = 10.0) -> list[BacktestRow]:
    """Rows with P50 100, P10 100 - low, P90 100 + high, and actual 100 + miss."""
    origin = datetime(2025, 1, 1)
    return [
        BacktestRow(
            add_months_dt(origin, i), 1, "engine", 100 + m, 100.0, 100 - low, 100.0, 100 + high
        )
        for i, m in enumerate(misses)
    ]


def add_months_dt(moment: datetime, months: int) -> datetime:
    return datetime.combine(add_months(moment.date(), months), datetime.min.time())


def test_recalibration_widens_an_overconfident_band():
    # Misses above P50 are measured in the upper half-width (10), below it in the lower (20).
    # Scales needed: 0, 0.5, 0.5, 0.8, 1.2, 1.5, 1.5, 2, 2.5, 3, 4, 6. Before: 4 of 12 held.
    # 12 forecasts: round(0.8 x 12) = 10 should hold -> midway between the 10th and 11th
    # needed scales, (3 + 4) / 2 = 3.5; then 10 of 12 hold.
    misses = [0, 5, -10, 8, 12, -30, 15, -40, 25, -60, 40, 60]
    band = recalibrate(band_rows(misses))
    assert band.scale == pytest.approx(3.5)
    assert band.coverage_before == pytest.approx(4 / 12)
    assert band.coverage_after == pytest.approx(10 / 12)
    assert band.scored_forecasts == 12


def test_recalibration_narrows_a_band_too_wide_and_keeps_one_in_range():
    # Every actual inside: scales needed 1/13, 2/13, ..., 12/13, all held (100 %).
    # round(0.8 x 12) = 10 -> k = (10/13 + 11/13) / 2 = 21/26; 10 of 12 then hold.
    misses = [10 * i / 13 for i in range(1, 13)]
    band = recalibrate(band_rows(misses))
    assert band.scale == pytest.approx(21 / 26)
    assert (band.coverage_before, band.coverage_after) == (1.0, pytest.approx(10 / 12))
    # 10 of 12 already held (83 %, inside 75-85 %): the band stays as it is.
    in_range = recalibrate(band_rows([*misses[:10], 11, 12]))
    assert (in_range.scale, in_range.coverage_before) == (1.0, pytest.approx(10 / 12))
    # Under 12 scored forecasts: coverage is reported, the band is not resized.
    few = recalibrate(band_rows(misses[:11]))
    assert (few.scale, few.coverage_after, few.scored_forecasts) == (None, None, 11)


def fixed(method: str, q: Quantiles) -> Bookings:
    return Bookings(method, lambda first, last: q)


def test_combination_bookings_are_the_median_of_each_statistic_scaled():
    headline = Headline(
        "combination", "combination_best", "", 6, {}, BandScale(2.0, 0.5, 0.8, 18), ("a", "b")
    )
    engine = fixed("engine", Quantiles(100, 80, 100, 130))
    crosschecks = {
        "a": fixed("a", Quantiles(90, 60, 95, 110)),
        "b": fixed("b", Quantiles(120, 85, 115, 160)),
    }
    q = headline_bookings(headline, engine, crosschecks).window(0, 3)
    # Medians: mean 100, P10 80, P50 100, P90 130; the half-widths 20 and 30 doubled.
    assert q == Quantiles(100, 60, 100, 160)


# --- on a warehouse ---------------------------------------------------------------------------

SETTINGS = EngineSettings(horizon_months=3, simulations=2_000, seed=3)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hand_warehouse(tmp_path_factory.mktemp("headline"))


@pytest.fixture
def con(built_warehouse: Path, tmp_path: Path):
    con = open_copy(built_warehouse, tmp_path)
    yield con
    con.close()


def store_backtest(con: duckdb.DuckDBPyConnection, backtest_rows: list[BacktestRow]) -> None:
    con.executemany(
        "insert into forecast_backtest values (?, ?, ?, ?, ?, ?, ?, ?, 2000, 0, now())",
        [
            [r.origin, r.horizon_months, r.method, r.actual, r.forecast_mean, r.p10, r.p50, r.p90]
            for r in backtest_rows
        ],
    )


def engine_rows_needing_scale() -> list[BacktestRow]:
    """18 rows (6 origins x 3 horizons): actual 100 x h, row j's P50 off by (j + 0.5) % of it,
    alternately above and below, and P10/P90 at -+1 % of it around P50.

    Row j needs band scale j + 0.5: 0.5, 1.5, ..., 17.5, so 1 of 18 is held (6 %).
    round(0.8 x 18) = 14 -> k = (13.5 + 14.5) / 2 = 14; 14 of 18 then hold.
    """
    found = []
    for j, (origin, h) in enumerate((o, h) for o in ORIGINS for h in (1, 2, 3)):
        actual = 100.0 * h
        p50 = actual * (1 + (j + 0.5) / 100 * (1 if j % 2 else -1))
        width = 0.01 * actual
        found.append(BacktestRow(origin, h, "engine", actual, p50, p50 - width, p50, p50 + width))
    return found


def by_month(con: duckdb.DuckDBPyConnection, run_id: int, component: str) -> dict:
    return {
        r["month"]: r
        for r in rows(
            con,
            "select * from forecast_bookings where run_id = ? and component = ?",
            [run_id, component],
        )
    }


def by_period(con: duckdb.DuckDBPyConnection, run_id: int, component: str) -> dict:
    return {
        (r["period"], r["period_start"]): r
        for r in rows(
            con,
            "select * from forecast_periods where run_id = ? and component = ?",
            [run_id, component],
        )
    }


@pytest.mark.slow
def test_stored_headline_is_the_engine_with_its_band_rescaled(con):
    # The engine's WAPE is about 9 % (engine_rows_needing_scale); the baselines' 20-50 %.
    store_backtest(
        con,
        [
            *engine_rows_needing_scale(),
            *forecasts("run_rate", [0.20]),
            *forecasts("ets_bookings", [0.30]),
            *forecasts("seasonal_naive", [-0.40]),
            *forecasts("crm_weighted", [0.50]),
        ],
    )
    run_id = run_forecast(con, SETTINGS)
    run = rows(con, "select method, config from forecast_runs where run_id = ?", [run_id])[0]
    headline = json.loads(run["config"])["headline"]
    assert run["method"] == "engine"
    assert (headline["method"], headline["reason_code"], headline["origins"]) == (
        "engine",
        "engine_best",
        6,
    )
    assert headline["band_scale"] == pytest.approx(14.0)
    assert headline["coverage_before"] == pytest.approx(1 / 18)
    assert headline["coverage_after"] == pytest.approx(14 / 18)
    assert headline["scored_forecasts"] == 18
    assert headline["wape"]["run_rate"]["2"] == pytest.approx(0.20)
    # Month by month, quarter and year: the engine's total, its band 14 times as wide around P50.
    for total, head in (
        (by_month(con, run_id, "total"), by_month(con, run_id, "headline")),
        (by_period(con, run_id, "total"), by_period(con, run_id, "headline")),
    ):
        assert total.keys() == head.keys() and total
        for key, t in total.items():
            h = head[key]
            assert (h["mean"], h["p50"]) == (t["mean"], t["p50"])
            assert h["p10"] == pytest.approx(t["p50"] - 14 * (t["p50"] - t["p10"]))
            assert h["p90"] == pytest.approx(t["p50"] + 14 * (t["p90"] - t["p50"]))


@pytest.mark.slow
def test_stored_headline_is_the_best_baseline(con):
    store_backtest(
        con,
        [
            *forecasts("engine", [0.30]),
            *forecasts("run_rate", [0.10]),
            *forecasts("ets_bookings", [0.20]),
            *forecasts("seasonal_naive", [0.25]),
            *forecasts("crm_weighted", [0.50]),
        ],
    )
    run_id = run_forecast(con, SETTINGS)
    assert rows(con, "select method from forecast_runs")[0]["method"] == "run_rate"
    run_rate = {
        r["month"]: r
        for r in rows(
            con,
            "select * from forecast_crosschecks where run_id = ? and method = 'run_rate'",
            [run_id],
        )
    }
    head = by_month(con, run_id, "headline")
    assert head.keys() == run_rate.keys() == {date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)}
    for month, r in run_rate.items():
        assert head[month]["p50"] == pytest.approx(r["p50"])
    # run_rate's P50 of a run of months is the sum of its months' (a point forecast). Q1 2026 adds
    # what January booked (W12..W29, 18 x 100) to March; Q2 is April plus May.
    periods = by_period(con, run_id, "headline")
    march, april, may = (run_rate[m]["p50"] for m in sorted(run_rate))
    assert periods[("quarter", date(2026, 1, 1))]["p50"] == pytest.approx(1800 + march)
    assert periods[("quarter", date(2026, 4, 1))]["p50"] == pytest.approx(april + may)
    # The engine's own total is still stored.
    assert by_month(con, run_id, "total")
    # From an earlier as_of, only the windows that had ended by then count: by 2025-08-01 the
    # May origin's three, June's first two and July's first; by 2025-07-01, two origins only.
    assert choose_headline(con, datetime(2025, 8, 1), ALL).origins == 3
    earlier = choose_headline(con, datetime(2025, 7, 1), ALL)
    assert (earlier.method, earlier.reason_code, earlier.origins) == (
        "engine",
        "too_few_origins",
        2,
    )


@pytest.mark.slow
def test_without_a_seed_the_data_decides_it(con):
    unseeded = EngineSettings(horizon_months=2, simulations=500)
    first, second = run_forecast(con, unseeded), run_forecast(con, unseeded)
    seeds = dict(con.execute("select run_id, seed from forecast_runs").fetchall())
    assert seeds[first] == seeds[second]
    same = [
        rows(
            con,
            "select * exclude (run_id) from forecast_bookings where run_id = ? order by all",
            [r],
        )
        for r in (first, second)
    ]
    assert same[0] == same[1] and same[0]
    # Another deal in the warehouse: another seed.
    add_deal(con, "X1", created_at=datetime(2026, 2, 1), stage_order=1, amount_base=10.0)
    third = run_forecast(con, unseeded)
    assert (
        con.execute("select seed from forecast_runs where run_id = ?", [third]).fetchall()[0][0]
        != seeds[first]
    )


@pytest.mark.slow
def test_backtest_without_history_is_skipped_saying_why(con):
    # The first deal was created on 2025-10-22 (L0); as_of 2026-03-01: October to February.
    with pytest.raises(StepSkipped, match=r"needs 6 months.*covers 5 complete month"):
        run_backtest(con, BacktestSettings(simulations=100))
