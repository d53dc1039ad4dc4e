"""The forecast engine end to end on a tiny warehouse whose forecast was worked out by hand.

Pipeline 'default', stages 'stage 1' and 'stage 2'; as_of = 2026-03-01 00:00, so month 1 is all of
March (31 days), then April and May. History, all in 'stage 1':
- W0..W29: 10 days in stage 1, then won (amount 100), closing 2025-12-20 + i days (12 in
  December, 18 in January);
- L0..L29: 40 days in stage 1, then lost, closing 2025-12-01 + i days.
Open at as_of:
- O1 stage 1 for 2 days (1000); O2 stage 1 for 25 days (2000); O3 stage 1 for 50 days (3000);
- O4 stage 2 for 5 days (400), no stage-1 history (it skipped it);
- O5 pipeline 'renewals', stage 'Renew' (default probability 0.5), expected close 2026-04-15 (800);
- O6 pipeline 'renewals', stage 'Review' (no probability), no expected close date (100).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.errors import InputError
from pipeline_analytics.forecast import EngineSettings, run_forecast
from pipeline_analytics.forecast.engine import forecast
from tests.conftest import run_cli
from tests.mart_fixtures import add_deal, add_stages, add_stint, build_as_of, new_warehouse, rows

AS_OF = datetime(2026, 3, 1)
MONTHS = [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
SETTINGS = EngineSettings(horizon_months=3, simulations=20_000, seed=3)


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def add_history(con: duckdb.DuckDBPyConnection) -> None:
    for i in range(30):
        closed = datetime(2025, 12, 20) + timedelta(days=i)
        add_deal(
            con,
            f"W{i}",
            created_at=closed - timedelta(days=10),
            status="won",
            closed_at=closed,
            amount_base=100.0,
            snapshot_at=AS_OF,
        )
        add_stint(con, f"W{i}", 1, closed - timedelta(days=10), closed)
        closed = datetime(2025, 12, 1) + timedelta(days=i)
        add_deal(
            con,
            f"L{i}",
            created_at=closed - timedelta(days=40),
            status="lost",
            closed_at=closed,
            amount_base=100.0,
            snapshot_at=AS_OF,
        )
        add_stint(con, f"L{i}", 1, closed - timedelta(days=40), closed)


def add_open_deals(con: duckdb.DuckDBPyConnection) -> None:
    for deal_id, days, amount in (("O1", 2, 1000.0), ("O2", 25, 2000.0), ("O3", 50, 3000.0)):
        add_deal(
            con, deal_id, created_at=ago(days), stage_order=1, amount_base=amount, snapshot_at=AS_OF
        )
        add_stint(con, deal_id, 1, ago(days), None)
    add_deal(con, "O4", created_at=ago(5), stage_order=2, amount_base=400.0, snapshot_at=AS_OF)
    add_stint(con, "O4", 2, ago(5), None)
    con.executemany(
        "insert into stages by name select 'renewals' as pipeline, ? as stage, ? as stage_order, "
        "false as is_won, false as is_lost, ? as default_probability",
        [("Renew", 1, 0.5), ("Review", 2, None)],
    )
    for deal_id, stage, order, amount, close in (
        ("O5", "Renew", 1, 800.0, date(2026, 4, 15)),
        ("O6", "Review", 2, 100.0, None),
    ):
        add_deal(
            con,
            deal_id,
            created_at=ago(3),
            stage_order=order,
            stage=stage,
            amount_base=amount,
            snapshot_at=AS_OF,
            pipeline="renewals",
            expected_close_date=close,
        )
        add_stint(con, deal_id, order, ago(3), None, pipeline="renewals")
        con.execute("update deal_stage_events set stage = ? where deal_id = ?", [stage, deal_id])


def build_hand_warehouse(folder: Path) -> Path:
    """The warehouse described above, built as of AS_OF, in folder / 'w.duckdb'."""
    con = new_warehouse(folder)
    add_stages(con, 2)
    add_history(con)
    add_open_deals(con)
    build_as_of(con, AS_OF)
    con.close()
    return folder / "w.duckdb"


def open_copy(built: Path, folder: Path) -> duckdb.DuckDBPyConnection:
    """A fresh copy of a built warehouse (folder / 'w.duckdb'), for a test to change at will."""
    shutil.copy(built, folder / "w.duckdb")
    return new_warehouse(folder)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hand_warehouse(tmp_path_factory.mktemp("forecast"))


@pytest.fixture
def con(built_warehouse: Path, tmp_path: Path):
    con = open_copy(built_warehouse, tmp_path)
    yield con
    con.close()


def deals_of(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, dict]:
    found = rows(con, "select * from forecast_deals where run_id = ?", [run_id])
    return {r["deal_id"]: r for r in found}


def bookings_of(con: duckdb.DuckDBPyConnection, run_id: int, component: str) -> list[dict]:
    return rows(
        con,
        "select * from forecast_bookings where run_id = ? and component = ? order by month",
        [run_id, component],
    )


@pytest.mark.slow
def test_hand_computed_open_pipeline(con):
    run_id = run_forecast(con, SETTINGS)
    deals = deals_of(con, run_id)
    # O1, 2 days in stage 1 (age bucket from 2): the stints still in stage 1 at 2 days are W
    # (won 8 days later), L (lost 38 days later), O2 and O3 (open: censored at 23 and 48 days).
    # 62 at risk, 30 won at 8 days -> P(won in March) = 30/62; nothing after.
    # O2, 25 days (bucket from 23): only L, O2 and O3 got there; L all lost -> 0.
    # O3, 50 days (bucket from 49): only O3 itself got there, in stage 1 or in the pipeline as a
    #   whole -> the oldest stage-1 bucket with 30 outcomes (from 34: the L stints) -> 0.
    # O4, stage 2 has no outcomes -> the pipeline's stints pooled at 5 days: W won 5 days later,
    #   L lost 35 days later, O2/O3 censored -> 30/62 in March.
    # O5, O6: pipeline 'renewals' has no stage history and no closed deal, so neither the stage
    #   nor the deal-age model applies. O5 -> the stage's default probability 0.5; O6 (no
    #   probability) -> the win rate of every closed deal, 30 / 60. Both are timed by the won
    #   deals' cycles, not by O5's expected close (2026-04-15): every W deal took 10 days, and
    #   all were still open at the deals' age (3 days) -> won 7 days later, in March.
    expected = {
        "O1": ("stage", 30 / 62, date(2026, 3, 1), 1000 * 30 / 62),
        "O2": ("stage", 0.0, None, 0.0),
        "O3": ("oldest_age", 0.0, None, 0.0),
        "O4": ("pooled", 30 / 62, date(2026, 3, 1), 400 * 30 / 62),
        "O5": ("crm", 0.5, date(2026, 3, 1), 400.0),
        "O6": ("win_rate", 0.5, date(2026, 3, 1), 50.0),
    }
    assert deals.keys() == expected.keys()
    for deal_id, (basis, win, month, value) in expected.items():
        row = deals[deal_id]
        assert row["basis"] == basis, deal_id
        assert row["win_probability"] == pytest.approx(win), deal_id
        assert row["expected_close_month"] == month, deal_id
        assert row["expected_value_base"] == pytest.approx(value), deal_id
    # Simulated open pipeline: March 1400 x 30/62 + 800 x 0.5 + 100 x 0.5 = 1127.42 (sd of the
    # mean: sqrt((1000^2 + 400^2) x 30/62 x 32/62 + (800^2 + 100^2) / 4) / sqrt(20000) = 4.9);
    # April and May 0.
    open_pipeline = bookings_of(con, run_id, "open_pipeline")
    assert [r["month"] for r in open_pipeline] == MONTHS
    assert [r["mean"] for r in open_pipeline] == pytest.approx([1127.42, 0.0, 0.0], abs=25)
    # O5 alone decides 800 of March in half the simulations: P10 and P90 are 800 apart at least.
    assert open_pipeline[0]["p90"] - open_pipeline[0]["p10"] >= 800.0


@pytest.mark.slow
def test_components_periods_and_tables(con):
    run_id = run_forecast(con, SETTINGS)
    components = ("closed", "open_pipeline", "new_pipeline", "total")
    by_component = {c: bookings_of(con, run_id, c) for c in components}
    # Nothing closed in March before as_of (its first instant).
    assert [r["mean"] for r in by_component["closed"]] == [0.0, 0.0, 0.0]
    for month in range(3):
        parts = sum(by_component[c][month]["mean"] for c in ("open_pipeline", "new_pipeline"))
        assert by_component["total"][month]["mean"] == pytest.approx(parts)
        total = by_component["total"][month]
        assert total["p10"] <= total["p50"] <= total["p90"]
    assert by_component["new_pipeline"][2]["mean"] > 0  # new deals start winning by May

    periods = rows(
        con,
        "select * from forecast_periods where run_id = ? order by period, period_start",
        [run_id],
    )
    keys = {(p["period"], p["period_start"], p["months_forecast"], p["complete"]) for p in periods}
    assert keys == {
        ("quarter", date(2026, 1, 1), 1, True),
        ("quarter", date(2026, 4, 1), 2, False),
        ("year", date(2026, 1, 1), 3, False),
    }
    q1 = {
        p["component"]: p
        for p in periods
        if p["period_start"] == date(2026, 1, 1) and p["period"] == "quarter"
    }
    # Q1 has January's facts: W12..W29 won 2026-01-01..18 -> 18 x 100; February none.
    assert q1["closed"]["mean"] == 1800.0
    assert q1["total"]["mean"] == pytest.approx(1800.0 + by_component["total"][0]["mean"])

    cash = rows(con, "select * from forecast_cashflow where run_id = ? order by month", [run_id])
    assert [c["month"] for c in cash] == MONTHS
    for c in cash:
        assert c["billings_p10"] <= c["billings_p50"] <= c["billings_p90"]
        assert c["recognized_revenue"] > 0  # the won W deals are being recognised
    checks = rows(con, "select * from forecast_crosschecks where run_id = ?", [run_id])
    assert {c["method"] for c in checks} >= {"crm_weighted", "run_rate", "ets_bookings"}
    crm = {c["month"]: c for c in checks if c["method"] == "crm_weighted"}
    # Only O5 has a probability: 800 x 0.5 in April (2000 simulations: sd of the mean 9).
    assert crm[date(2026, 4, 1)]["mean"] == pytest.approx(400.0, abs=45)
    assert crm[date(2026, 3, 1)]["mean"] == 0.0

    run = rows(con, "select * from forecast_runs where run_id = ?", [run_id])[0]
    assert (
        run["as_of"],
        run["horizon_months"],
        run["simulations"],
        run["seed"],
        run["method"],
    ) == (
        AS_OF,
        3,
        20_000,
        3,
        "engine",
    )


@pytest.mark.slow
def test_same_seed_same_forecast(con):
    first = run_forecast(con, SETTINGS)
    second = run_forecast(con, SETTINGS)
    for table in (
        "forecast_bookings",
        "forecast_periods",
        "forecast_deals",
        "forecast_cashflow",
        "forecast_crosschecks",
    ):
        a = rows(
            con, f"select * exclude (run_id) from {table} where run_id = ? order by all", [first]
        )
        b = rows(
            con, f"select * exclude (run_id) from {table} where run_id = ? order by all", [second]
        )
        assert a == b, table


@pytest.mark.slow
def test_changes_since_previous_run(con):
    first = run_forecast(con, SETTINGS)
    # By 2026-03-10: O1 was won on 03-05 and a new deal O7 entered stage 1 on 03-07.
    won = datetime(2026, 3, 5)
    con.execute(
        "update deals set status = 'won', stage = 'Won', stage_order = null, "
        "closed_at = ? where deal_id = 'O1'",
        [won],
    )
    con.execute("update deal_stage_events set exited_at = ? where deal_id = 'O1'", [won])
    add_deal(
        con,
        "O7",
        created_at=datetime(2026, 3, 7),
        stage_order=1,
        amount_base=50.0,
        snapshot_at=datetime(2026, 3, 10),
    )
    add_stint(con, "O7", 1, datetime(2026, 3, 7), None)
    second = run_forecast(con, SETTINGS, as_of=datetime(2026, 3, 10))

    changes = {
        r["deal_id"]: r
        for r in rows(con, "select * from forecast_changes where run_id = ?", [second])
    }
    assert changes["O1"]["change"] == "won"
    assert changes["O1"]["previous_run_id"] == first
    assert changes["O1"]["delta_base"] == pytest.approx(-1000 * 30 / 62)
    assert changes["O7"]["change"] == "new"
    assert changes["O7"]["stage"] == "stage 1"
    # O1's win adds to the closed deals: O6's win rate moves from 30/60 to 31/61.
    assert changes["O6"]["change"] == "updated"
    assert changes["O6"]["expected_value_base"] == pytest.approx(100 * 31 / 61)
    # Unchanged deals are not listed: O2, O3 stay at 0 and O5 at 400.
    assert not {"O2", "O3", "O5"} & changes.keys()
    # The warehouse's own build is untouched by the forecast at another as_of.
    assert rows(con, "select as_of from build_params") == [{"as_of": AS_OF}]


def test_refuses_without_a_build(tmp_path: Path):
    con = new_warehouse(tmp_path)
    with pytest.raises(InputError, match="has not been built"):
        forecast(con, AS_OF, SETTINGS)
    con.close()


@pytest.mark.slow
def test_cli_forecast_and_backtest(con, export_dir: Path, capsys):
    con.close()  # the fixture's warehouse is export_dir / "w.duckdb"
    assert (
        run_cli(
            export_dir,
            "forecast",
            "--horizon",
            "2",
            "--simulations",
            "500",
            "--seed",
            "9",
            "--as-of",
            "2026-03-01",
        )
        == 0
    )
    check = duckdb.connect(str(export_dir / "w.duckdb"))
    assert check.execute(
        "select horizon_months, simulations, seed from forecast_runs"
    ).fetchall() == [(2, 500, 9)]
    # 2 months x 5 components (closed, open_pipeline, new_pipeline, total, headline).
    assert check.execute("select count(*) from forecast_bookings").fetchall() == [(10,)]
    check.close()
    with pytest.raises(SystemExit) as bad_flag:
        run_cli(export_dir, "forecast", "--simulations", "5")
    assert bad_flag.value.code == 2
    assert "--simulations: '5' is not a whole number from 100" in capsys.readouterr().err
    # Five months of history: too little for a backtest, which is skipped saying why.
    assert run_cli(export_dir, "backtest") == 0
    assert "backtest skipped" in capsys.readouterr().err
