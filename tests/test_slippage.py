"""Slippage: close-date moves from field history and from snapshot differences, pushed out per
quarter and per open deal by hand, the chance of another push from closed deals, the Salesforce
rendering's known pushes, and an export without close-date history says so."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.report import render_report
from pipeline_analytics.sample import renderings, shapes
from pipeline_analytics.sample.simulator import simulate
from tests.conftest import SAMPLE_DIR
from tests.mart_fixtures import add_deal, add_snapshot, add_stages, build_as_of, new_warehouse, rows
from tests.test_categories import add_close_date_change
from tests.test_report import section_html, text_of

AS_OF = datetime(2026, 11, 15, 12, 0)
CREATED = datetime(2025, 1, 10)


def test_pushes_out_of_each_quarter_by_hand(tmp_path: Path) -> None:
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # a: pushed out of Q1 (Mar 20 -> Apr 10, 21 days), then within Q2 (Apr 10 -> May 1, 21 days).
    add_deal(con, "a", created_at=CREATED, stage_order=1, amount_base=100.0,
             expected_close_date=date(2026, 5, 1))  # fmt: skip
    add_close_date_change(con, "a", date(2026, 3, 20), date(2026, 4, 10), datetime(2026, 3, 1))
    add_close_date_change(con, "a", date(2026, 4, 10), date(2026, 5, 1), datetime(2026, 4, 5))
    # b: pulled in (no push), then pushed out of Q1 by 45 days.
    add_deal(con, "b", created_at=CREATED, status="won", closed_at=datetime(2026, 6, 1),
             amount_base=300.0)  # fmt: skip
    add_close_date_change(con, "b", date(2026, 3, 30), date(2026, 3, 1), datetime(2026, 1, 5))
    add_close_date_change(con, "b", date(2026, 3, 1), date(2026, 4, 15), datetime(2026, 2, 20))
    # c: no field history; two exports show its date moved out of Q3 (Sep 10 -> Oct 10).
    add_deal(con, "c", created_at=CREATED, stage_order=2, amount_base=50.0,
             expected_close_date=date(2026, 10, 10))  # fmt: skip
    for snapshot_at, due in ((datetime(2026, 8, 1), date(2026, 9, 10)),
                             (datetime(2026, 9, 1), date(2026, 10, 10))):  # fmt: skip
        add_snapshot(con, "c", snapshot_at, expected_close_date=due, amount_base=50.0)
    # d: a change after it closed is not a slip.
    add_deal(con, "d", created_at=CREATED, status="lost", closed_at=datetime(2026, 2, 1),
             amount_base=999.0)  # fmt: skip
    add_close_date_change(con, "d", date(2026, 3, 1), date(2026, 6, 1), datetime(2026, 2, 10))
    build_as_of(con, AS_OF)
    periods = rows(
        con,
        "select period_start, fiscal_year, fiscal_quarter, deals_pushed_out, pushes_out, "
        "value_pushed_out_base, avg_days_pushed from mart_slippage_periods order by 1",
    )
    assert periods == [
        {"period_start": date(2026, 1, 1), "fiscal_year": 2026, "fiscal_quarter": 1,
         "deals_pushed_out": 2, "pushes_out": 2, "value_pushed_out_base": 400.0,
         "avg_days_pushed": (21 + 45) / 2},
        {"period_start": date(2026, 7, 1), "fiscal_year": 2026, "fiscal_quarter": 3,
         "deals_pushed_out": 1, "pushes_out": 1, "value_pushed_out_base": 50.0,
         "avg_days_pushed": 30.0},
    ]  # fmt: skip
    deals = {
        r["deal_id"]: r for r in rows(con, "select * from mart_slippage_deals order by deal_id")
    }
    assert set(deals) == {"a", "c"}  # open deals only
    assert (deals["a"]["push_count"], deals["a"]["days_pushed"]) == (2, 42)
    assert (deals["c"]["push_count"], deals["c"]["days_pushed"]) == (1, 30)
    assert deals["a"]["source_has_history"]


def test_the_chance_of_another_push_comes_from_closed_deals_with_as_many_pushes(
    tmp_path: Path,
) -> None:
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # 30 closed deals: 10 never pushed, 12 pushed once, 8 pushed twice.
    for i, pushes in enumerate([0] * 10 + [1] * 12 + [2] * 8):
        deal = f"closed-{i}"
        add_deal(con, deal, created_at=CREATED, status="won", closed_at=datetime(2026, 9, 1),
                 amount_base=10.0)  # fmt: skip
        for k in range(pushes):
            add_close_date_change(
                con, deal, date(2026, 6, 1 + k), date(2026, 6, 2 + k), datetime(2026, 5, 1 + k)
            )
    for deal, pushes in (("open-0", 0), ("open-1", 1), ("open-2", 2)):
        add_deal(con, deal, created_at=CREATED, stage_order=1, amount_base=10.0,
                 expected_close_date=date(2026, 12, 1))  # fmt: skip
        for k in range(pushes):
            add_close_date_change(
                con, deal, date(2026, 11, 1 + k), date(2026, 11, 2 + k), datetime(2026, 10, 1 + k)
            )
    build_as_of(con, AS_OF)
    found = {
        r["deal_id"]: (r["push_count"], r["basis_deals"], r["slip_probability"])
        for r in rows(con, "select * from mart_slippage_deals")
    }
    assert found["open-0"] == (0, 30, pytest.approx(20 / 30))  # 20 of 30 pushed at least once
    assert found["open-1"] == (1, 20, pytest.approx(8 / 20))  # 8 of 20 pushed again
    assert found["open-2"] == (2, 8, None)  # 8 closed deals with 2 pushes: fewer than 20


def test_the_salesforce_rendering_pushes_every_fifth_deal_by_thirty_days(tmp_path: Path) -> None:
    """renderings.py pushes every PUSH_EVERY-th deal's close date by PUSH_DAYS once, between its
    first two stage changes: the moves, their days and the deals the marts see are exactly those."""
    db = tmp_path / "w.duckdb"
    config = str(SAMPLE_DIR / "salesforce.toml")
    for command in ("ingest", "build"):
        assert main(["-q", "--config", config, "--db", str(db), command]) == 0
    pipeline = simulate(1000, 7)
    events = pipeline.stage_history.group_by("opportunity_id").len()
    pushed = events.filter(
        (pl.col("opportunity_id").str.slice(4).cast(pl.Int64) % renderings.PUSH_EVERY == 0)
        & (pl.col("len") >= 2)
    ).height
    con = duckdb.connect(str(db), read_only=True)
    moves = con.execute(
        "select count(*), count(distinct deal_id), min(days_moved), max(days_moved) "
        "from int_close_date_moves"
    ).fetchone()
    assert moves == (pushed, pushed, renderings.PUSH_DAYS, renderings.PUSH_DAYS)
    averages = {
        r[0] for r in con.execute("select avg_days_pushed from mart_slippage_periods").fetchall()
    }
    assert averages == {float(renderings.PUSH_DAYS)}
    # Nobody is pushed twice, so the chance of a second push is 0 once 20 closed deals show it.
    second = con.execute(
        "select distinct slip_probability from mart_slippage_deals where push_count = 1"
    ).fetchall()
    assert second == [(0.0,)]


@pytest.mark.parametrize("language", ["en", "it"])
def test_an_export_without_close_date_history_says_so(tmp_path: Path, language: str) -> None:
    config = shapes.write_shape("no_history", tmp_path / "shape", simulations=200)
    db = tmp_path / "w.duckdb"
    for command in ("ingest", "build"):
        assert main(["-q", "--config", str(config), "--db", str(db), command]) == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from mart_slippage_periods").fetchone() == (0,)
    assert con.execute(
        "select count(*) from mart_slippage_deals where source_has_history"
    ).fetchone() == (0,)
    page = render_report(con, output_dir=tmp_path / "r", language=language)
    text = text_of(section_html(page.read_text(encoding="utf-8"), "slippage"))
    words = "no close-date history" if language == "en" else "storico delle date di chiusura"
    assert words in text
