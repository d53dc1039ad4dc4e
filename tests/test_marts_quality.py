"""mart_touchpoints and mart_data_quality on hand-built warehouses, and `status` printing checks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.status import describe
from tests.mart_fixtures import (
    add_activity,
    add_deal,
    add_stages,
    add_stint,
    build_as_of,
    new_warehouse,
    rows,
)

T0 = datetime(2024, 1, 1)
AS_OF = datetime(2024, 12, 31)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_touchpoints_by_hand(tmp_path):
    con = new_warehouse(tmp_path)
    # Source "crm" loads an activities file: counts come from it, up to the close (and as_of).
    add_deal(con, "w1", created_at=day(0), status="won", closed_at=day(10))
    for n in (1, 5, 10, 12):  # day 12 is after the close: after-sales, not a touchpoint
        add_activity(con, "w1", day(n))
    add_deal(con, "w2", created_at=day(0), status="won", closed_at=day(20))
    for n in (2, 3, 4, 6, 8):
        add_activity(con, "w2", day(n))
    add_deal(con, "l1", created_at=day(0), status="lost", closed_at=day(5))
    add_activity(con, "l1", day(1))
    add_deal(con, "l2", created_at=day(0), status="lost", closed_at=day(7))  # none: 0
    add_deal(con, "o1", created_at=day(0))
    add_activity(con, "o1", day(3))
    add_activity(con, "o1", AS_OF + timedelta(days=1))  # after as_of: unknown then
    # Source "hub" has no activities file: the export's activity-count column.
    add_deal(con, "hw", created_at=day(0), status="won", closed_at=day(9), source="hub",
             activity_count=9)  # fmt: skip
    add_deal(con, "hl", created_at=day(0), status="lost", closed_at=day(9), source="hub")
    add_deal(con, "ho", created_at=day(0), source="hub", activity_count=4)
    # exported after as_of: its count includes later activities, so it is not used
    add_deal(con, "ho2", created_at=day(0), source="hub", activity_count=7,
             snapshot_at=AS_OF + timedelta(days=2))  # fmt: skip
    build_as_of(con, AS_OF)

    t = {r["status"]: r for r in rows(con, "select * from mart_touchpoints")}
    assert list(t) == ["won", "lost", "open"]
    # won: w1 3, w2 5 (log), hw 9 (count): 17 over 3 deals, median 5.
    assert (t["won"]["deals"], t["won"]["activities"], t["won"]["median_activities"]) == (3, 17, 5)
    assert t["won"]["mean_activities"] == pytest.approx(17 / 3)
    assert (t["won"]["deals_from_activity_log"], t["won"]["deals_from_activity_count"]) == (2, 1)
    # lost: l1 1, l2 0; hl has no count: 1 over 2 deals, 1 without data.
    assert (t["lost"]["deals"], t["lost"]["deals_without_activity_data"]) == (2, 1)
    assert (t["lost"]["activities"], t["lost"]["mean_activities"]) == (1, 0.5)
    # open: o1 1, ho 4; ho2 without data.
    assert (t["open"]["deals"], t["open"]["activities"], t["open"]["median_activities"]) == (
        2,
        5,
        2.5,
    )
    assert t["open"]["deals_without_activity_data"] == 1


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """One deal (or a few) per data-quality problem; everything else about them is clean."""
    con = new_warehouse(tmp_path_factory.mktemp("messy"))
    add_stages(con, 2)

    def deal(deal_id: str, **kwargs) -> None:
        values = {"created_at": day(0), "owner": "ann", "amount_base": 10.0, "stage_order": 1}
        values.update(kwargs)
        if values.get("status", "open") != "open":
            values["stage_order"] = None
        add_deal(con, deal_id, **values)

    deal("nodate", status="won")  # closed, no close date
    deal("backwards", created_at=day(130), status="won", closed_at=day(120))
    deal("eur", amount=100.0, currency="EUR", amount_base=None)  # no EUR rate
    deal("odd_stage", stage="Legal review", stage_order=None)
    deal("odd_history")
    add_stint(con, "odd_history", 1, day(3), None, stage="Legal review")
    deal("noamount", amount_base=None)
    deal("stale", expected_close_date=date(2024, 12, 1))
    deal("fresh", expected_close_date=date(2025, 1, 15))
    for n in range(1, 7):
        deal(f"noowner{n}", owner=None)
    deal("lost_unknown", status="lost", closed_at=day(50))
    deal("regress", status="lost", closed_at=day(9))
    for order, entered, exited in ((1, 0, 2), (2, 2, 4), (1, 4, 9)):
        add_stint(con, "regress", order, day(entered), day(exited))
    for deal_id in ("fresh", "stale", "noamount", "eur"):
        add_stint(con, deal_id, 1, day(0), None)
    add_activity(con, "ghost", day(3))  # no such deal
    # ingest kept the last of two rows with id dup1; a file loaded after as_of repeated dup2
    for batch_id, snapshot, dup in ((1, day(100), "dup1"), (2, AS_OF + timedelta(days=1), "dup2")):
        con.execute(
            "insert into ingest_batches (batch_id, source, object, snapshot_at, status, "
            "rows_read, rows_loaded, rows_rejected) "
            "values (?, 'crm', 'deals', ?, 'loaded', 5, 4, 1)",
            [batch_id, snapshot],
        )
        con.execute(
            "insert into rejected_rows values (?, 3, 'deal_id', ?, '{}')",
            [batch_id, f"duplicate deal_id '{dup}': line 5 has the same id and was kept"],
        )
    # ingest left out a created_at in 2094 (after its file was loaded); a file after as_of did too
    deal("future", created_at=None)
    deal("future_later")
    for batch_id, deal_id in ((1, "future"), (2, "future_later")):
        con.execute(
            "insert into flagged_values values (?, 4, ?, 'created_at', '2094-02-01 00:00:00', "
            "'event_in_future')",
            [batch_id, deal_id],
        )
    build_as_of(con, AS_OF)
    return con


def test_data_quality_checks_by_hand(messy):
    checks = {r["check_name"]: r for r in rows(messy, "select * from mart_data_quality")}
    found = {
        name: (r["severity"], r["deals_affected"], r["sample_ids"]) for name, r in checks.items()
    }
    assert found == {
        "closed_without_close_date": ("error", 1, ["nodate"]),
        "close_before_create": ("error", 1, ["backwards"]),
        "amount_without_fx_rate": ("error", 1, ["eur"]),
        "stage_not_in_config": ("error", 2, ["odd_history", "odd_stage"]),
        "event_in_future": ("error", 1, ["future"]),  # future_later's file came after as_of
        "missing_amount_open": ("warning", 1, ["noamount"]),
        "stale_expected_close": ("warning", 1, ["stale"]),  # Dec 1 < as_of; "fresh" is Jan 15
        # six deals, five sample ids (sorted)
        "missing_owner": ("warning", 6, [f"noowner{n}" for n in range(1, 6)]),
        "duplicate_ids_in_file": ("warning", 1, ["dup1"]),  # dup2's file came after as_of
        "activities_without_deal": ("warning", 1, ["ghost"]),
        "lost_stage_unknown": ("info", 1, ["lost_unknown"]),
        "stage_regressions": ("info", 1, ["regress"]),  # 1 -> 2 -> 1
        # its created_at was left out (2094); future_later's only in a file after as_of
        "missing_created_at": ("warning", 1, ["future"]),
    }
    assert all(r["explanation"] for r in checks.values())


def test_clean_checks_have_zero_rows(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 1)
    add_deal(con, "ok", created_at=day(0), owner="ann", stage_order=1, amount_base=5.0)
    add_stint(con, "ok", 1, day(0), None)
    build_as_of(con, AS_OF)
    counts = rows(con, "select deals_affected, sample_ids from mart_data_quality")
    assert len(counts) == 13
    assert {(r["deals_affected"], len(r["sample_ids"])) for r in counts} == {(0, 0)}


def test_status_prints_errors_and_warnings_not_info(messy):
    text = describe(messy, Path("w.duckdb"))
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Data quality"))
    block = lines[start : lines.index("", start)]
    assert block[0] == "Data quality (build as of 2024-12-31 00:00, table mart_data_quality):"
    assert block[1].startswith(
        "  ERROR   stage_not_in_config: 2 deal(s), e.g. odd_history, odd_stage -- Deals whose"
    )
    assert any(
        line.startswith("  WARNING missing_owner: 6 deal(s), e.g. noowner1, noowner2")
        for line in block
    )
    # 5 error checks and 6 warning checks found something; the info checks are not printed
    assert len(block) == 1 + 5 + 6
    assert "stage_regressions" not in text
