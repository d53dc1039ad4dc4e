"""Forecast categories (the reps' call): ingest normalizes every CRM's spelling, the calls at each
quarter's start and the roll-up are computed by hand on tiny warehouses, the Salesforce rendering
recovers the generator's calibration, and an export without categories says so."""

from __future__ import annotations

import logging
import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.report import render_report
from pipeline_analytics.sample import calls, shapes
from tests.adapter_fixtures import adapter_config, query, write_csv
from tests.conftest import SAMPLE_DIR, run_cli
from tests.mart_fixtures import add_deal, add_stages, build_as_of, new_warehouse, rows
from tests.test_report import section_html, text_of

AS_OF = datetime(2026, 11, 15, 12, 0)


def test_every_spelling_of_a_category_is_stored_as_one_of_five_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spellings = {
        "d1": ("Commit", "Commit"),
        "d2": ("Forecast", "Commit"),  # Salesforce's API value for Commit
        "d3": ("BEST_CASE", "Best Case"),  # HubSpot's internal value
        "d4": ("BestCase", "Best Case"),
        "d5": ("Most Likely", "Best Case"),
        "d6": ("pipeline", "Pipeline"),
        "d7": ("Not forecasted", "Omitted"),
        "d8": ("Closed won", "Closed"),
        "d9": ("Caso migliore", "Best Case"),
        "d10": ("Maybe Later", "Maybe Later"),  # none of the five: kept as written
        "d11": ("", None),
    }
    write_csv(
        tmp_path / "deals.csv",
        ["deal_id", "stage", "created_at", "Forecast Category"],
        [[d, "Proposal", "2026-01-05", raw] for d, (raw, _) in spellings.items()],
    )
    adapter_config(tmp_path, "generic", "deals.csv", ["Proposal"])
    with caplog.at_level(logging.WARNING):
        assert run_cli(tmp_path, "ingest") == 0
    stored = dict(query(tmp_path, "select deal_id, forecast_category from deals"))
    assert stored == {d: name for d, (_, name) in spellings.items()}
    snapshots = dict(query(tmp_path, "select deal_id, forecast_category from deal_snapshots"))
    assert snapshots == stored
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Maybe Later" in message for message in warned)


def add_category_change(
    con: duckdb.DuckDBPyConnection, deal_id: str, category: str, at: datetime
) -> None:
    con.execute(
        "insert into deal_changes values ('crm', ?, 'forecast_category', null, ?, ?, null)",
        [deal_id, category, at],
    )


def add_close_date_change(
    con: duckdb.DuckDBPyConnection, deal_id: str, old: date, new: date, at: datetime
) -> None:
    con.execute(
        "insert into deal_changes values ('crm', ?, 'close_date', ?, ?, ?, null)",
        [deal_id, old.isoformat(), new.isoformat(), at],
    )


def test_a_call_is_the_category_in_force_when_the_quarter_began_on_a_deal_due_in_it(
    tmp_path: Path,
) -> None:
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    created = datetime(2026, 2, 1)
    # Committed before Q2 began, due in Q2, won in Q2: a Commit call that came true.
    add_deal(
        con,
        "won",
        created_at=created,
        status="won",
        closed_at=datetime(2026, 5, 10),
        amount_base=100.0,
        owner="Ann",
        expected_close_date=date(2026, 5, 10),
    )
    add_category_change(con, "won", "Commit", datetime(2026, 3, 1))
    # Committed, due in Q2 as Q2 began, pushed out during it and won in Q3: a Q2 Commit call
    # missed, then a Q3 Commit call (due in Q3 when Q3 began) that came true.
    add_deal(
        con,
        "slipped",
        created_at=created,
        status="won",
        closed_at=datetime(2026, 8, 1),
        amount_base=50.0,
        owner="Ann",
    )
    add_category_change(con, "slipped", "Commit", datetime(2026, 3, 1))
    add_close_date_change(con, "slipped", date(2026, 6, 20), date(2026, 8, 1), datetime(2026, 6, 1))
    # Best Case before Q2, then Commit inside Q2, lost in Q2: the call at Q2's start is Best Case.
    add_deal(
        con,
        "lost",
        created_at=created,
        status="lost",
        closed_at=datetime(2026, 6, 1),
        amount_base=30.0,
        owner="Bo",
        expected_close_date=date(2026, 6, 1),
    )
    add_category_change(con, "lost", "Best Case", datetime(2026, 3, 2))
    add_category_change(con, "lost", "Commit", datetime(2026, 4, 15))
    # Committed only after Q2 began: no call for Q2 (and due in Q2, so none for Q3 either).
    add_deal(
        con,
        "late",
        created_at=created,
        status="won",
        closed_at=datetime(2026, 6, 5),
        amount_base=70.0,
        owner="Bo",
        expected_close_date=date(2026, 6, 5),
    )
    add_category_change(con, "late", "Commit", datetime(2026, 4, 2))
    # Due in Q3 when Q2 began: not a Q2 call; open through Q3, due in it: a Q3 call not won.
    add_deal(
        con,
        "next",
        created_at=created,
        status="open",
        stage_order=2,
        amount_base=20.0,
        owner="Bo",
        expected_close_date=date(2026, 9, 30),
    )
    add_category_change(con, "next", "Pipeline", datetime(2026, 3, 1))
    build_as_of(con, AS_OF)
    found = rows(
        con,
        "select deal_id, period_start, forecast_category, won_in_period "
        "from int_forecast_category_calls order by period_start, deal_id",
    )
    assert found == [
        {"deal_id": "lost", "period_start": date(2026, 4, 1), "forecast_category": "Best Case",
         "won_in_period": False},
        {"deal_id": "slipped", "period_start": date(2026, 4, 1), "forecast_category": "Commit",
         "won_in_period": False},
        {"deal_id": "won", "period_start": date(2026, 4, 1), "forecast_category": "Commit",
         "won_in_period": True},
        {"deal_id": "next", "period_start": date(2026, 7, 1), "forecast_category": "Pipeline",
         "won_in_period": False},
        {"deal_id": "slipped", "period_start": date(2026, 7, 1), "forecast_category": "Commit",
         "won_in_period": True},
    ]  # fmt: skip
    commit = rows(
        con,
        "select * from mart_forecast_category_accuracy "
        "where owner = '(all)' and forecast_category = 'Commit'",
    )[0]
    assert (commit["calls"], commit["calls_won"], commit["periods"]) == (3, 2, 2)
    assert (commit["value_called"], commit["value_won"]) == (200.0, 150.0)
    assert commit["share_won"] is None and not commit["enough_calls"]  # 3 calls < 20


def test_share_won_from_twenty_calls_per_rep(tmp_path: Path) -> None:
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # Ann: 20 Commit calls for Q2, 15 won inside it; Bo: 19 calls, too few for a share.
    for rep, n_calls, n_won in (("Ann", 20, 15), ("Bo", 19, 19)):
        for i in range(n_calls):
            deal = f"{rep}-{i}"
            won = i < n_won
            closed_at = datetime(2026, 5, 10) if won else datetime(2026, 6, 10)
            add_deal(con, deal, created_at=datetime(2026, 1, 5), status="won" if won else "lost",
                     closed_at=closed_at, amount_base=10.0, owner=rep,
                     expected_close_date=closed_at.date())  # fmt: skip
            add_category_change(con, deal, "Commit", datetime(2026, 2, 1))
    build_as_of(con, AS_OF)
    by_owner = {
        r["owner"]: r
        for r in rows(
            con,
            "select * from mart_forecast_category_accuracy where forecast_category = 'Commit'",
        )
    }
    assert by_owner["Ann"]["share_won"] == pytest.approx(15 / 20)
    assert by_owner["Bo"]["share_won"] is None and by_owner["Bo"]["calls"] == 19
    assert by_owner["(all)"]["share_won"] == pytest.approx(34 / 39)
    assert by_owner["(all)"]["value_share_won"] == pytest.approx(340 / 390)


def test_the_roll_up_adds_the_calls_to_what_is_won(tmp_path: Path) -> None:
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    snapshot = datetime(2026, 11, 1)

    def open_deal(deal: str, amount: float, due: date, category: str | None) -> None:
        add_deal(con, deal, created_at=datetime(2026, 9, 1), stage_order=1, amount_base=amount,
                 expected_close_date=due, snapshot_at=snapshot)  # fmt: skip
        con.execute(
            "insert into deal_snapshots (snapshot_at, source, deal_id, status, amount_base, "
            "expected_close_date, forecast_category) values (?, 'crm', ?, 'open', ?, ?, ?)",
            [snapshot, deal, amount, due, category],
        )

    add_deal(con, "w", created_at=datetime(2026, 9, 1), status="won",
             closed_at=datetime(2026, 10, 20), amount_base=1000.0)  # fmt: skip
    open_deal("c", 200.0, date(2026, 12, 1), "Commit")
    open_deal("b", 300.0, date(2026, 12, 2), "Best Case")
    open_deal("p", 400.0, date(2026, 11, 30), "Pipeline")
    open_deal("o", 500.0, date(2026, 12, 3), "Omitted")
    open_deal("x", 600.0, date(2026, 12, 4), None)
    open_deal("next", 700.0, date(2027, 1, 15), "Commit")
    open_deal("overdue", 800.0, date(2026, 9, 15), "Commit")
    build_as_of(con, AS_OF)
    q4, q1, *later = rows(con, "select * from mart_forecast_category_rollup order by period_start")
    assert (q4["period_start"], q4["fiscal_year"], q4["fiscal_quarter"]) == (
        date(2026, 10, 1),
        2026,
        4,
    )
    assert q4["closed_won_base"] == 1000.0
    assert (q4["commit_base"], q4["best_case_base"], q4["pipeline_base"]) == (200.0, 300.0, 400.0)
    assert (q4["omitted_base"], q4["uncategorized_base"]) == (500.0, 600.0)
    assert q4["commit_forecast"] == 1200.0
    assert q4["best_case_forecast"] == 1500.0
    assert q4["pipeline_forecast"] == 1900.0
    assert (q4["overdue_deals"], q4["overdue_base"]) == (1, 800.0)
    assert (q1["commit_forecast"], q1["overdue_deals"]) == (700.0, 0)
    assert len(later) == 2 and all(q["pipeline_forecast"] == 0 for q in later)


@pytest.fixture(scope="module")
def salesforce_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Salesforce rendering ingested and built (no forecast: the section says so)."""
    db = tmp_path_factory.mktemp("salesforce") / "w.duckdb"
    config = str(SAMPLE_DIR / "salesforce.toml")
    for command in ("ingest", "build"):
        assert main(["-q", "--config", config, "--db", str(db), command]) == 0
    return db


def test_the_salesforce_rendering_recovers_the_generators_calibration(
    salesforce_sample: Path,
) -> None:
    """Among calls whose quarter is over, the generator made Commit with P = 0.70 on a deal won in
    that quarter and 0.10 on any other (sample/calls.py): the marts read both back."""
    con = duckdb.connect(str(salesforce_sample), read_only=True)
    by_category = {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "select forecast_category, calls, calls_won from mart_forecast_category_accuracy "
            "where owner = '(all)'"
        ).fetchall()
    }
    assert set(by_category) == {"Commit", "Best Case", "Pipeline"}
    won = sum(w for _, w in by_category.values())
    missed = sum(c - w for c, w in by_category.values())
    commit_calls, commit_won = by_category["Commit"]
    for observed, expected, n in (
        (commit_won / won, calls.CALL_IF_WON_IN_QUARTER[0], won),
        ((commit_calls - commit_won) / missed, calls.CALL_IF_NOT[0], missed),
    ):
        assert abs(observed - expected) < 3 * math.sqrt(expected * (1 - expected) / n)
    # Opportunity.csv's ForecastCategoryName is each deal's current call: the loaded deals match.
    current = dict(
        con.execute("select forecast_category, count(*) from deals group by 1").fetchall()
    )
    assert (
        current["Closed"]
        == con.execute("select count(*) from deals where status = 'won'").fetchone()[0]
    )
    assert (
        current["Omitted"]
        == con.execute("select count(*) from deals where status = 'lost'").fetchone()[0]
    )


@pytest.mark.parametrize("language", ["en", "it"])
def test_the_report_shows_the_roll_up_and_the_calls(
    salesforce_sample: Path, tmp_path: Path, language: str
) -> None:
    con = duckdb.connect(str(salesforce_sample), read_only=True)
    commit = con.execute(
        "select calls, share_won from mart_forecast_category_accuracy "
        "where owner = '(all)' and forecast_category = 'Commit'"
    ).fetchone()
    page = render_report(con, output_dir=tmp_path, language=language).read_text(encoding="utf-8")
    text = text_of(section_html(page, "categories"))
    share = f"{commit[1] * 100:.1f}".replace(".", "," if language == "it" else ".")
    assert f"{commit[0]}" in text and f"{share}%" in text.replace("\u00a0", "")
    heading = "Forecast categories" if language == "en" else "Categorie di previsione"
    assert heading in text


def test_an_export_without_categories_says_so(tmp_path: Path) -> None:
    config = shapes.write_shape("no_history", tmp_path / "shape", simulations=200)
    db = tmp_path / "w.duckdb"
    for command in ("ingest", "build"):
        assert main(["-q", "--config", str(config), "--db", str(db), command]) == 0
    con = duckdb.connect(str(db), read_only=True)
    for language, words in (("en", "no forecast category"), ("it", "categoria di previsione")):
        page = render_report(con, output_dir=tmp_path / language, language=language)
        text = text_of(section_html(page.read_text(encoding="utf-8"), "categories"))
        assert words in text


def test_the_hubspot_rendering_holds_the_same_calls_as_salesforce(
    salesforce_sample: Path, tmp_path: Path
) -> None:
    """HubSpot writes its own labels (Best case, Closed won, Not forecasted): read back, each deal's
    call is the one the Salesforce rendering of the same deals carries."""
    db = tmp_path / "hubspot.duckdb"
    config = str(SAMPLE_DIR / "hubspot.toml")
    assert main(["-q", "--config", config, "--db", str(db), "ingest"]) == 0
    by_name = "select name, created_at, forecast_category from deals order by name, created_at"
    hubspot = duckdb.connect(str(db), read_only=True).execute(by_name).fetchall()
    salesforce = duckdb.connect(str(salesforce_sample), read_only=True).execute(by_name).fetchall()
    assert hubspot == salesforce
    assert {c for _, _, c in hubspot} == {"Commit", "Best Case", "Pipeline", "Closed", "Omitted"}
