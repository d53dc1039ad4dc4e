"""A win/loss extract with no dates at all runs end to end and the report says what needs dates.

Six deals: N1 and N2 won (1000, 3000), N3 and N4 lost (500, 1500), N5 open at 2000 and N6 open
without an amount. No created, closed or modified column. Every expected number is worked out in
the comments.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli, write
from tests.test_report import section_html, text_of

DEALS = """
id,name,stage,value,rep,source
N1,Alpha,Won,1000,Ann,Web
N2,Beta,Won,3000,Bob,Referral
N3,Gamma,Lost,500,Ann,Web
N4,Delta,Lost,1500,Bob,Web
N5,Epsilon,Proposal,2000,Ann,Referral
N6,Zeta,Prospecting,,Bob,Web
"""
CONFIG = """
[[sources]]
name = "crm"
adapter = "generic"
path = "deals.csv"
[sources.columns]
deal_id = "id"
name = "name"
stage = "stage"
amount = "value"
owner = "rep"
lead_source = "source"
[sources.status]
won = ["Won"]
lost = ["Lost"]
[pipeline]
stages = ["Prospecting", "Proposal"]
currency = "USD"
[forecast]
simulations = 200
seed = 1
[report]
output_dir = "reports"
"""
# The file's modification time is its snapshot: set to a known moment.
MODIFIED = datetime(2025, 6, 15, 12, 0)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    folder = tmp_path_factory.mktemp("no-dates")
    write(folder / "p.toml", CONFIG)
    deals = write(folder / "deals.csv", DEALS)
    stamp = MODIFIED.replace(tzinfo=UTC).timestamp()
    os.utime(deals, (stamp, stamp))
    exit_code = run_cli(folder, "-q", "run")
    page = (folder / "reports" / "latest.html").read_text(encoding="utf-8")
    return folder, exit_code, page


def query(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def words(page: str, section: str) -> str:
    """A section's visible text with the chart scripts left out."""
    return re.sub(r"Plotly\.newPlot\(.*?\);", "", text_of(section_html(page, section)))


@pytest.mark.slow
def test_it_loads_with_the_file_time_as_snapshot(ran: tuple[Path, int, str]) -> None:
    folder, exit_code, _ = ran
    assert exit_code == 0
    assert query(folder, "select rows_loaded, rows_rejected, snapshot_at from ingest_batches") == [
        (6, 0, MODIFIED)
    ]
    assert query(folder, "select as_of from build_params") == [(MODIFIED,)]


@pytest.mark.slow
def test_forecast_and_backtest_are_skipped_with_the_reason(ran: tuple[Path, int, str]) -> None:
    folder, _, _ = ran
    steps = dict(query(folder, "select step, status from run_steps"))
    assert steps == {
        "ingest": "succeeded",
        "build": "succeeded",
        "backtest": "skipped",
        "forecast": "skipped",
        "report": "succeeded",
    }
    messages = dict(query(folder, "select step, message from run_steps where status = 'skipped'"))
    assert "none of the deals closed by 2025-06-15 has a close date" in messages["forecast"]
    assert "none of the closed deals has a close date" in messages["backtest"]


@pytest.mark.slow
def test_the_marts_keep_what_needs_no_dates(ran: tuple[Path, int, str]) -> None:
    folder, _, _ = ran
    # Open N5 and N6; only N5 has an amount. Nothing closed at a known time: no win rate, not 0.
    assert query(
        folder, "select open_deals, open_pipeline_base, won_deals, win_rate from mart_kpis"
    ) == [(2, 2000, 0, None)]
    all_time = query(
        folder,
        "select dimension, dimension_value, won_deals, lost_deals, win_rate, win_rate_amount, "
        "avg_won_size, closed_without_date from mart_win_rate_all_time order by all",
    )
    assert all_time == [
        # 2 of 4 won; by amount 4000 of 6000; the average won deal (1000 + 3000) / 2.
        ("all", "all", 2, 2, 0.5, pytest.approx(4000 / 6000), 2000, 4),
        ("lead_source", "Referral", 1, 0, 1.0, 1.0, 3000, 1),
        ("lead_source", "Web", 1, 2, pytest.approx(1 / 3), pytest.approx(1000 / 3000), 1000, 3),
        ("owner", "Ann", 1, 1, 0.5, pytest.approx(1000 / 1500), 1000, 2),
        ("owner", "Bob", 1, 1, 0.5, pytest.approx(3000 / 4500), 3000, 2),
    ]
    measures = query(
        folder,
        "select metric, measurable, reason, deals_affected, deals_considered "
        "from mart_measurability where metric in ('win_rate', 'time_windows', 'cycle_time') "
        "order by metric",
    )
    assert measures == [
        ("cycle_time", False, "no_created_dates", 6, 6),
        ("time_windows", False, "no_close_dates", 4, 4),
        ("win_rate", False, "no_close_dates", 2, 4),
    ]
    quality = dict(
        query(
            folder,
            "select check_name, deals_affected from mart_data_quality "
            "where check_name in ('closed_without_close_date', 'missing_created_at')",
        )
    )
    assert quality == {"closed_without_close_date": 4, "missing_created_at": 6}


@pytest.mark.slow
def test_the_report_says_what_needs_dates_and_shows_what_does_not(
    ran: tuple[Path, int, str],
) -> None:
    _, _, page = ran
    summary = words(page, "summary")
    assert "None of the 4 closed deals has a close date, so no figure over time" in summary
    assert "No deal has a creation date, so the sales cycle" in summary
    assert (
        "Over all 4 closed deals in the export, whenever they closed: 2 won and 2 lost, a win "
        "rate of 50.0% by number of deals and 66.7% by amount; the average won deal is $2,000."
    ) in summary
    # Per owner and per lead source, over every closed deal: Ann 1 won 1 lost, Web 1 won 2 lost.
    team = words(page, "team")
    assert "Over all closed deals, whenever they closed:" in team
    assert "Ann 1 1 50.0% 66.7% 1,000" in team
    sources = words(page, "sources")
    assert "Web 1 2 33.3% 33.3% 1,000" in sources
    assert "none of the deals closed by 2025-06-15 has a close date" in words(page, "forecast")
    assert "the first export's whole pipeline reads as created" in words(page, "flow")
    assert "Time to close is not measurable: no closed deal has a close date." in words(
        page, "speed"
    )


def test_ingest_logs_that_the_snapshot_is_the_file_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "p.toml", CONFIG)
    deals = write(tmp_path / "deals.csv", DEALS)
    stamp = MODIFIED.replace(tzinfo=UTC).timestamp()
    os.utime(deals, (stamp, stamp))
    assert run_cli(tmp_path, "ingest") == 0
    assert "its snapshot time is the file's modification time, 2025-06-15 12:00:00 UTC" in (
        capsys.readouterr().err
    )
