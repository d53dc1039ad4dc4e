"""A real third-party export (Salesforce Data Export) through a plain generic mapping.

mart_kpis must equal figures computed here independently from the raw file with the csv module.
The files live in ../shared/real-exports (not in this repository); the test skips without them.
"""

from __future__ import annotations

import csv
import statistics
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main

EXPORT = (
    Path(__file__).resolve().parents[2] / "shared" / "real-exports" / "salesforce_dev_org_export"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (EXPORT / "opportunity.csv").is_file(), reason=f"real export not present at {EXPORT}"
    ),
]

CONFIG = """
[[sources]]
name = "salesforce"
adapter = "generic"
path = "{export}/opportunity.csv"
history = "{export}/OpportunityHistory.csv"
[sources.columns]
deal_id = "Id"
name = "Name"
account = "AccountId"
owner = "OwnerId"
lead_source = "LeadSource"
deal_type = "Type"
stage = "StageName"
amount = "Amount"
probability = "Probability"
created_at = "CreatedDate"
closed_at = "CloseDate"
updated_at = "LastModifiedDate"
[sources.history_columns]
deal_id = "OpportunityId"
stage = "StageName"
changed_at = "CreatedDate"
[sources.status]
won = ["Closed Won"]
lost = ["Closed Lost"]
[pipeline]
stages = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
          "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote",
          "Negotiation/Review"]
currency = "USD"
lookback_days = 365
"""


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def expected_kpis() -> dict[str, float | int | None]:
    """The metrics.md definitions applied to the raw rows, without DuckDB or our SQL."""
    with (EXPORT / "opportunity.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["IsDeleted"] == "0"]
    events = [_ts(r["CreatedDate"]) for r in rows] + [_ts(r["LastModifiedDate"]) for r in rows]
    events += [_ts(r["CloseDate"]) for r in rows if r["IsClosed"] == "1"]
    as_of = max(events)
    window_start = as_of - timedelta(days=365)
    closed = [
        r for r in rows if r["IsClosed"] == "1" and window_start < _ts(r["CloseDate"]) <= as_of
    ]
    won = [r for r in closed if r["IsWon"] == "1"]
    lost = [r for r in closed if r["IsWon"] == "0"]
    open_rows = [r for r in rows if r["IsClosed"] == "0"]
    won_amounts = [float(r["Amount"]) for r in won if r["Amount"]]
    cycles = [(_ts(r["CloseDate"]) - _ts(r["CreatedDate"])).total_seconds() / 86400 for r in won]
    valid_cycles = [c for c in cycles if c >= 0]  # close before create: excluded
    return {
        "open_deals": len(open_rows),
        "open_pipeline_base": sum(float(r["Amount"]) for r in open_rows if r["Amount"]),
        "won_deals": len(won),
        "lost_deals": len(lost),
        "win_rate": len(won) / (len(won) + len(lost)),
        "avg_won_size": statistics.fmean(won_amounts),
        "median_won_size": statistics.median(won_amounts),
        "mean_cycle_days_won": statistics.fmean(valid_cycles) if valid_cycles else None,
    }


def test_mart_kpis_match_independent_figures(tmp_path: Path) -> None:
    config = tmp_path / "salesforce.toml"
    config.write_text(CONFIG.format(export=EXPORT))
    db = tmp_path / "w.duckdb"
    args = ["--config", str(config), "--db", str(db)]
    assert main([*args, "ingest"]) == 0
    assert main([*args, "build"]) == 0
    con = duckdb.connect(str(db), read_only=True)
    columns = [
        "open_deals",
        "open_pipeline_base",
        "won_deals",
        "lost_deals",
        "win_rate",
        "avg_won_size",
        "median_won_size",
        "mean_cycle_days_won",
    ]
    actual = dict(
        zip(
            columns,
            con.execute(f"select {', '.join(columns)} from mart_kpis").fetchall()[0],
            strict=True,
        )
    )
    con.close()
    expected = expected_kpis()
    assert actual == pytest.approx(expected)
    # The demo org's opportunities all close before they were created: no valid cycle at all.
    assert expected["mean_cycle_days_won"] is None


def test_reloading_the_same_files_changes_no_row_count(tmp_path: Path) -> None:
    config = tmp_path / "salesforce.toml"
    config.write_text(CONFIG.format(export=EXPORT))
    args = ["--config", str(config), "--db", str(tmp_path / "w.duckdb")]
    tables = ("deals", "deal_stage_events", "deal_snapshots", "stage_changes", "ingest_batches")

    def counts() -> list[int]:
        con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
        try:
            return [con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in tables]
        finally:
            con.close()

    assert main([*args, "ingest"]) == 0
    first = counts()
    assert first[0] == 31
    assert main([*args, "ingest"]) == 0
    assert counts() == first


def test_run_writes_an_honest_report_on_the_demo_org(tmp_path: Path) -> None:
    """No lost deal, no real stage change, every deal 'created' after it closed: the whole run
    still ends in a report, and the forecast neither drops the open deals nor piles them into
    the current month."""
    config = tmp_path / "salesforce.toml"
    config.write_text(
        CONFIG.format(export=EXPORT)
        + f"[forecast]\nsimulations = 4000\nseed = 1\n[report]\noutput_dir = '{tmp_path}/reports'\n"
    )
    db = tmp_path / "w.duckdb"
    assert main(["-q", "--config", str(config), "--db", str(db), "run"]) == 0
    con = duckdb.connect(str(db), read_only=True)
    steps = dict(con.execute("select step, status from run_steps").fetchall())
    assert steps == {
        "ingest": "succeeded",
        "build": "succeeded",
        "backtest": "skipped",  # four months of closes: too short
        "forecast": "succeeded",
        "report": "succeeded",
    }
    assert con.execute("select status from runs").fetchall() == [("partial",)]
    deals = con.execute(
        "select deal_id, basis, win_probability, expected_value_base from forecast_deals"
    ).fetchall()
    with (EXPORT / "opportunity.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["IsDeleted"] == "0" and r["IsClosed"] == "0"]
    # Every open deal is forecast from the CRM's own probability (18 closed deals are too few
    # for the deal-age model), at its own amount.
    expected = {r["Id"]: (float(r["Probability"]) / 100, float(r["Amount"])) for r in rows}
    assert {d[0] for d in deals} == expected.keys()
    for deal_id, basis, win, value in deals:
        assert basis == "crm"
        assert win == pytest.approx(expected[deal_id][0])
        assert value == pytest.approx(expected[deal_id][0] * expected[deal_id][1])
    # Every expected close date has passed; no won deal has a usable cycle. The open pipeline is
    # spread over the months it takes to close at the org's pace, not put in October's last 3
    # days: October holds well under half of it.
    months = con.execute(
        "select mean from forecast_bookings where component = 'open_pipeline' order by month"
    ).fetchall()
    total = sum(m[0] for m in months)
    assert total == pytest.approx(sum(p * a for p, a in expected.values()), rel=0.03)
    assert months[0][0] < 0.5 * total
    con.close()
    page = (tmp_path / "reports" / "latest.html").read_text(encoding="utf-8")
    assert "No closed-lost deals in the export" in page
    assert "Stage conversion is not measurable" in page
