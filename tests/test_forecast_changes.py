"""What changed since the last run: a period's P50 change split by cause, on two hand-made runs.

Pipeline 'default', stages 'Propose' (default probability 0.4) and 'Commit' (0.8). No deal has a
creation date, so no stage or deal-age history exists and no won cycle: every open deal is won
with its stage's probability in the month of its expected close date (outcomes.py, 3), which makes
each deal's expected value in each quarter known by hand. History: W1..W10 won (100 each) and
L1..L10 lost, in January and February 2026.

Run A as of 2026-03-01, run B as of 2026-03-10; 4 months ahead (March to June), so the periods are
Q1 (only March forecast), Q2 (April to June) and the year 2026. Between the runs:
- D1 Commit 1000, close 03-20: won on 03-05             Q1: +1000 - 800 = +200
- D2 Propose 500, close 03-25: lost on 03-08              Q1: -200
- D3 Commit 2000, close 03-28 -> 04-15: pushed           Q1: -1600, Q2: +1600
- D4 Propose 1000, close 05-10 -> 03-31: pulled          Q1: +400,  Q2: -400
- D5 Commit, close 03-30, amount 1000 -> 1500            Q1: amount +500 x 0.8 = +400
- D6 Propose -> Commit, 300, close 04-20                 Q2: model +300 x 0.4 = +120
- D7 Propose 250, close 03-15: gone from the export      Q1: -100
- N1 new, Commit 400, close 04-10                         Q2: new +320
- N2 new, created and won between the runs (600, 03-09)  Q1: new +600
- D8 Commit 700, close 06-15: unchanged                   nothing
"""

from __future__ import annotations

import html
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.errors import InputError
from pipeline_analytics.forecast import EngineSettings, run_forecast
from pipeline_analytics.report import render_report
from pipeline_analytics.report.formatting import LOCALES, Formatter
from pipeline_analytics.report.i18n import translator
from pipeline_analytics.report.sections.changes import (
    DEAL_LESS,
    ChangeBreakdown,
    compared_run,
    period_changes,
)
from tests.conftest import run_cli
from tests.mart_fixtures import add_deal, build_as_of, new_warehouse, rows

RUN_A = datetime(2026, 3, 1)
RUN_B = datetime(2026, 3, 10)
SETTINGS = EngineSettings(horizon_months=4, simulations=20_000, seed=5)
Q1, Q2, YEAR = date(2026, 1, 1), date(2026, 4, 1), date(2026, 1, 1)

# deal -> stage, amount, expected close date at run A
OPEN_AT_A = {
    "D1": ("Commit", 1000.0, date(2026, 3, 20)),
    "D2": ("Propose", 500.0, date(2026, 3, 25)),
    "D3": ("Commit", 2000.0, date(2026, 3, 28)),
    "D4": ("Propose", 1000.0, date(2026, 5, 10)),
    "D5": ("Commit", 1000.0, date(2026, 3, 30)),
    "D6": ("Propose", 300.0, date(2026, 4, 20)),
    "D7": ("Propose", 250.0, date(2026, 3, 15)),
    "D8": ("Commit", 700.0, date(2026, 6, 15)),
}
# The parts each cause must take, by hand (see the module docstring).
EXPECTED_Q1 = {"new": 600.0, "won": 200.0, "lost": -200.0, "removed": -100.0}
EXPECTED_Q1 |= {"pushed": -1600.0, "pulled": 400.0, "amount": 400.0}
EXPECTED_Q2 = {"new": 320.0, "pushed": 1600.0, "pulled": -400.0}


def stages(con: duckdb.DuckDBPyConnection) -> None:
    con.executemany(
        "insert into stages (pipeline, stage, stage_order, is_won, is_lost, default_probability) "
        "values ('default', ?, ?, ?, ?, ?)",
        [
            ("Propose", 1, False, False, 0.4),
            ("Commit", 2, False, False, 0.8),
            ("Won", None, True, False, None),
            ("Lost", None, False, True, None),
        ],
    )


def closed(con: duckdb.DuckDBPyConnection, deal_id: str, status: str, at: datetime, amount: float):
    add_deal(
        con,
        deal_id,
        created_at=None,
        status=status,
        closed_at=at,
        amount_base=amount,
        snapshot_at=at,
    )


def open_deal(con, deal_id: str, stage: str, amount: float, close: date, seen: datetime) -> None:
    add_deal(
        con,
        deal_id,
        created_at=None,
        stage=stage,
        stage_order=1 if stage == "Propose" else 2,
        amount_base=amount,
        expected_close_date=close,
        snapshot_at=seen,
    )


def warehouse_at_a(folder: Path) -> duckdb.DuckDBPyConnection:
    con = new_warehouse(folder)
    stages(con)
    for i in range(1, 11):
        closed(con, f"W{i}", "won", datetime(2026, 1, 3 * i), 100.0)
        closed(con, f"L{i}", "lost", datetime(2026, 2, 2 * i), 100.0)
    for deal_id, (stage, amount, close) in OPEN_AT_A.items():
        open_deal(con, deal_id, stage, amount, close, datetime(2026, 2, 20))
    build_as_of(con, RUN_A)
    return con


def export_at_b(con: duckdb.DuckDBPyConnection) -> None:
    """The export taken at run B: the moves of the module docstring."""
    con.execute("update deals set snapshot_at = ? where status = 'open'", [RUN_B])
    con.execute(
        "update deals set status = 'won', stage = 'Won', stage_order = null, closed_at = ? "
        "where deal_id = 'D1'",
        [datetime(2026, 3, 5)],
    )
    con.execute(
        "update deals set status = 'lost', stage = 'Lost', stage_order = null, closed_at = ? "
        "where deal_id = 'D2'",
        [datetime(2026, 3, 8)],
    )
    moves = {"D3": date(2026, 4, 15), "D4": date(2026, 3, 31)}
    for deal_id, close in moves.items():
        con.execute("update deals set expected_close_date = ? where deal_id = ?", [close, deal_id])
    con.execute("update deals set amount_base = 1500 where deal_id = 'D5'")
    con.execute("update deals set stage = 'Commit', stage_order = 2 where deal_id = 'D6'")
    con.execute("delete from deals where deal_id = 'D7'")
    open_deal(con, "N1", "Commit", 400.0, date(2026, 4, 10), RUN_B)
    closed(con, "N2", "won", datetime(2026, 3, 9), 600.0)


@pytest.fixture(scope="module")
def stored_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A warehouse (folder / 'w.duckdb') holding runs A and B; their ids."""
    folder = tmp_path_factory.mktemp("changes")
    con = warehouse_at_a(folder)
    first = run_forecast(con, SETTINGS)
    export_at_b(con)
    second = run_forecast(con, SETTINGS, as_of=RUN_B)
    con.close()
    return folder, first, second


@pytest.fixture
def two_runs(stored_runs, tmp_path: Path):
    folder, first, second = stored_runs
    shutil.copy(folder / "w.duckdb", tmp_path / "w.duckdb")
    con = new_warehouse(tmp_path)
    yield con, first, second
    con.close()


def breakdown(con, first: int, second: int, kind: str, start: date) -> ChangeBreakdown:
    found = period_changes(con, first, second, kind, start)
    assert found is not None
    return found


def test_deal_periods_by_hand(two_runs):
    con, first, second = two_runs
    got = {
        (r["deal_id"], r["period_kind"], r["period_start"]): r
        for r in rows(con, "select * from forecast_deal_periods where run_id = ?", [first])
    }
    chance = {"Commit": 0.8, "Propose": 0.4}
    for deal_id, (stage, amount, close) in OPEN_AT_A.items():
        in_q1 = close < Q2
        for kind, start, inside in (("quarter", Q1, in_q1), ("quarter", Q2, not in_q1)):
            row = got[(deal_id, kind, start)]
            assert row["status"] == "open"
            assert row["expected_close_date"] == close
            assert row["win_probability"] == pytest.approx(chance[stage] if inside else 0.0)
            assert row["expected_value_base"] == pytest.approx(
                amount * chance[stage] if inside else 0.0
            )
        # The year 2026 holds all four months.
        assert got[(deal_id, "year", YEAR)]["expected_value_base"] == pytest.approx(
            amount * chance[stage]
        )
    # Closed in January and February: won rows book 100 each, lost rows nothing.
    q1_closed = [v for (d, k, s), v in got.items() if k == "quarter" and s == Q1 and d[0] in "WL"]
    assert len(q1_closed) == 20
    assert sum(r["expected_value_base"] for r in q1_closed) == pytest.approx(1000.0)
    # Q2 starts after run A's as_of: no deal closed in it yet.
    assert not [v for (d, k, s), v in got.items() if s == Q2 and v["status"] != "open"]


def test_won_rows_add_up_to_the_closed_component(two_runs):
    con, _, second = two_runs
    # Run B: W1..W10 (1000) plus D1 (1000) and N2 (600) won in Q1 before as_of.
    closed_component = rows(
        con,
        "select mean from forecast_periods where run_id = ? and period = 'quarter' "
        "and period_start = ? and component = 'closed'",
        [second, Q1],
    )[0]["mean"]
    won = rows(
        con,
        "select sum(expected_value_base) as booked from forecast_deal_periods "
        "where run_id = ? and period_kind = 'quarter' and period_start = ? and status = 'won'",
        [second, Q1],
    )[0]["booked"]
    assert won == pytest.approx(2600.0)
    assert closed_component == pytest.approx(won)


@pytest.mark.parametrize(("start", "expected"), [(Q1, EXPECTED_Q1), (Q2, EXPECTED_Q2)])
def test_each_cause_takes_its_part(two_runs, start: date, expected: dict[str, float]):
    con, first, second = two_runs
    found = breakdown(con, first, second, "quarter", start)
    parts = {c.cause: c.delta for c in found.causes if c.delta and c.cause not in DEAL_LESS}
    assert parts == pytest.approx(expected)
    counts = {c.cause: c.deals for c in found.causes if c.deals}
    # One deal each (N2 alone is new in Q1: N1 has nothing there).
    assert counts == dict.fromkeys(expected, 1)
    # D6's stage moved its chance from 0.4 to 0.8 in Q2: the one re-estimate.
    assert found.reestimated == pytest.approx(120.0 if start == Q2 else 0.0)


@pytest.mark.parametrize("start", [Q1, Q2])
def test_parts_add_up_to_the_p50_change(two_runs, start: date):
    con, first, second = two_runs
    found = breakdown(con, first, second, "quarter", start)
    p50 = {
        r["run_id"]: r["p50"]
        for r in rows(
            con,
            "select run_id, p50 from forecast_periods where period = 'quarter' "
            "and period_start = ? and component = 'total'",
            [start],
        )
    }
    assert (found.p50_previous, found.p50_now) == (p50[first], p50[second])
    assert sum(c.delta for c in found.causes) == pytest.approx(p50[second] - p50[first], abs=1e-6)
    # The mean moves by the explained parts plus the re-estimate, up to sampling error: each
    # deal's expected value in the period is what the simulation draws on average.
    means = {
        r["run_id"]: r["mean"]
        for r in rows(
            con,
            "select run_id, mean from forecast_periods where period = 'quarter' "
            "and period_start = ? and component = 'total'",
            [start],
        )
    }
    explained = sum(c.delta for c in found.causes if c.cause != "model") + found.reestimated
    assert means[second] - means[first] == pytest.approx(explained, abs=40.0)


def test_year_holds_both_quarters(two_runs):
    con, first, second = two_runs
    found = breakdown(con, first, second, "year", YEAR)
    parts = {c.cause: c.delta for c in found.causes if c.delta and c.cause not in DEAL_LESS}
    # Within the year, the push and the pull stay inside it: their deals changed nothing.
    assert parts == pytest.approx(
        {"new": 920.0, "won": 200.0, "lost": -200.0, "removed": -100.0, "amount": 400.0}
    )


def test_compare_by_id_and_by_date(two_runs):
    con, first, second = two_runs
    assert compared_run(con, str(first)) == first
    # A date picks the newest base run as of that day or earlier: run A (03-01), not B (03-10).
    assert compared_run(con, "2026-03-09") == first
    assert compared_run(con, "2026-03-01") == first
    # A moment with its zone counts in UTC: midnight of 03-10 in Rome is 23:00 UTC on 03-09,
    # before run B's as_of (03-10 00:00 UTC).
    assert compared_run(con, "2026-03-10T00:00:00+01:00") == first
    listing = f"run {second} as of 2026-03-10 00:00, run {first} as of 2026-03-01 00:00"
    for value, problem in (
        ("2026-03-10", f"that is run {second}, the latest"),
        (str(second), f"that is run {second}, the latest"),
        ("2026-02-28", "no base forecast run as of that date or earlier"),
        ("99", "no base forecast run 99"),
        ("last week", "neither a run id nor a date"),
    ):
        with pytest.raises(InputError) as raised:
            compared_run(con, value)
        message = str(raised.value)
        assert message.startswith(f"--compare {value}: {problem}"), message
        assert listing in message


def test_scenario_runs_are_not_compared(two_runs):
    con, first, second = two_runs
    con.execute("update forecast_runs set scenario = 'upside' where run_id = ?", [first])
    with pytest.raises(InputError, match=f"no base forecast run {first}"):
        compared_run(con, str(first))


def report_text(con: duckdb.DuckDBPyConnection, folder: Path, language: str, **kwargs) -> str:
    path = render_report(con, output_dir=folder / language, language=language, **kwargs)
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(path.read_text())).split())


@pytest.mark.parametrize("language", ["en", "it"])
def test_report_shows_the_change_by_cause(two_runs, tmp_path: Path, language: str):
    con, first, second = two_runs
    found = breakdown(con, first, second, "quarter", Q1)
    text = report_text(con, tmp_path, language)
    t = translator(language)
    fmt = Formatter(currency="EUR", locale=LOCALES[language])
    assert t("What changed since the last run") in text
    assert t("Change since the last run, {quarter}", quarter=fmt.quarter(2026, 1)) in text
    # The table's first and last rows: both runs' P50 of Q1; and the pushed deal's part.
    for shown in (fmt.number(found.p50_previous), fmt.number(found.p50_now)):
        assert shown in text
    assert fmt.signed(-1600.0, fmt.number) in text
    assert t("Close date pushed across the period's edge") in text


def test_report_compares_with_the_run_named(two_runs, tmp_path: Path):
    con, first, second = two_runs
    text = report_text(con, tmp_path, "en", compare=str(first))
    assert f"Run {second} (" in text and f"against run {first} (" in text
    with pytest.raises(InputError, match="--compare 7: no base forecast run 7"):
        render_report(con, output_dir=tmp_path / "bad", compare="7")
    assert not (tmp_path / "bad").exists()  # nothing written


def test_first_run_has_nothing_to_compare(tmp_path: Path):
    con = warehouse_at_a(tmp_path)
    run_id = run_forecast(con, SETTINGS)
    text = report_text(con, tmp_path, "en")
    assert f"Nothing to compare yet: run {run_id} is the first forecast stored." in text
    with pytest.raises(InputError, match="that is run 1, the latest"):
        compared_run(con, "1")
    con.close()


def test_cli_report_compare(stored_runs, export_dir: Path, capsys):
    folder, first, _ = stored_runs
    shutil.copy(folder / "w.duckdb", export_dir / "w.duckdb")
    out = export_dir / "out"
    assert run_cli(export_dir, "report", "--output-dir", str(out), "--compare", "2026-03-05") == 0
    assert f"against run {first} (" in (out / "latest.html").read_text()
    capsys.readouterr()
    assert run_cli(export_dir, "report", "--output-dir", str(out), "--compare", "12") == 2
    assert "--compare 12: no base forecast run 12; base runs stored" in capsys.readouterr().err


def test_deals_without_a_close_date_say_pushes_cannot_be_told(two_runs, tmp_path: Path):
    con, first, second = two_runs
    # D3's close date unknown in run B: its push out of Q1 cannot be seen, so its -1600 goes to
    # the model's part, and the report says how many deals that concerns.
    con.execute(
        "update forecast_deal_periods set expected_close_date = null "
        "where run_id = ? and deal_id = 'D3'",
        [second],
    )
    found = breakdown(con, first, second, "quarter", Q1)
    parts = {c.cause: c.delta for c in found.causes}
    assert parts["pushed"] == 0.0
    assert found.reestimated == pytest.approx(-1600.0)
    # Open in both runs: D3, D4, D5, D6, D8.
    assert (found.undated_deals, found.continuing_deals) == (1, 5)
    text = report_text(con, tmp_path, "en")
    assert (
        "1 of the 5 deals open in both runs have no expected close date in run 1 or run 2" in text
    )
    con.execute("update forecast_deal_periods set expected_close_date = null where status = 'open'")
    text = report_text(con, tmp_path, "en")
    assert "5 of the 5 deals open in both runs" in text
    assert "Close date pushed across the period's edge not measurable not measurable" in text


def test_forecast_changes_name_pushes_pulls_and_amounts(two_runs):
    con, first, second = two_runs
    kinds = {
        r["deal_id"]: r["change"]
        for r in rows(con, "select * from forecast_changes where run_id = ?", [second])
    }
    # N2, new and won between the runs, was never open in a run: not a deal of forecast_changes.
    assert kinds == {
        "D1": "won",
        "D2": "lost",
        "D3": "pushed",
        "D4": "pulled",
        "D5": "amount",
        "D6": "updated",
        "D7": "removed",
        "N1": "new",
    }


def test_a_run_without_deal_periods_is_not_split(two_runs, tmp_path: Path):
    con, first, second = two_runs
    # As a run made before forecast_deal_periods existed.
    con.execute("delete from forecast_deal_periods where run_id = ?", [first])
    text = report_text(con, tmp_path, "en")
    assert (
        f"Run {first} was made before forecasts stored each deal's part in each period, so its "
        f"change cannot be split by cause; the next run will be compared with run {second}."
    ) in text


def test_a_period_outside_either_run_has_no_breakdown(two_runs):
    con, first, second = two_runs
    # Both runs forecast March to June: the third quarter is in neither.
    assert period_changes(con, first, second, "quarter", date(2026, 7, 1)) is None


def test_another_headline_is_named_beside_the_engine_breakdown(two_runs, tmp_path: Path):
    con, first, second = two_runs
    con.execute("update forecast_runs set method = 'run_rate' where run_id = ?", [second])
    text = report_text(con, tmp_path, "en")
    assert (
        "The headline is Run rate's forecast; the breakdown explains the engine's P50, which the "
        "deals make up."
    ) in text


@pytest.mark.parametrize(("start", "by_hand"), [(Q1, 3500.0), (Q2, 1080.0)])
def test_open_rows_add_up_to_the_simulated_open_pipeline(two_runs, start: date, by_hand: float):
    con, first, _ = two_runs
    # Run A, Q1: D1 800 + D2 200 + D3 1600 + D5 800 + D7 100; Q2: D4 400 + D6 120 + D8 560.
    stored = rows(
        con,
        "select sum(expected_value_base) as value from forecast_deal_periods "
        "where run_id = ? and period_kind = 'quarter' and period_start = ? and status = 'open'",
        [first, start],
    )[0]["value"]
    assert stored == pytest.approx(by_hand)
    simulated = rows(
        con,
        "select mean from forecast_periods where run_id = ? and period = 'quarter' "
        "and period_start = ? and component = 'open_pipeline'",
        [first, start],
    )[0]["mean"]
    # 20,000 draws: the sd of the mean is under 10 (D3 alone: 2000 x sqrt(0.8 x 0.2) / 141).
    assert simulated == pytest.approx(by_hand, abs=40.0)
