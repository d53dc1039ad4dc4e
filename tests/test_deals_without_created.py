"""A deal without a creation date loads and counts everywhere but in cycle and cohort figures.

Six deals load from a generic export; three have no creation date (W2 won, O2 and O3 open), one row
has a creation date that cannot be read and is rejected. The export's latest event, and so its
snapshot and the build's as_of, is W2's close on 2024-03-01. Every expected number is worked out
in the comments.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline_analytics.forecast.outcomes import OutcomeHistory, outcome_model
from tests.conftest import run_cli, write
from tests.test_report import section_html, text_of

DEALS = """
id,stage,created,closed,value,rep
W1,Won,2024-01-01,2024-01-11,1000,Ann
W2,Won,,2024-03-01,3000,Bob
L1,Lost,2024-02-01,2024-02-21,500,Ann
O1,Proposal,2024-02-15,2024-06-30,2000,Ann
O2,Prospecting,,2024-07-31,400,Bob
O3,Qualification,,,600,Bob
X1,Prospecting,not-a-date,,100,Ann
"""
# O3 has no creation date but a stage history: it is known from its first change, Feb 20.
HISTORY = """
deal_id,stage,changed_at
O3,Prospecting,2024-02-20
O3,Qualification,2024-02-25
"""
AS_OF = datetime(2024, 3, 1)


def query(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def built(export_dir: Path) -> Path:
    write(export_dir / "deals.csv", DEALS)
    write(export_dir / "history.csv", HISTORY)
    assert run_cli(export_dir, "-q", "ingest") == 0
    assert run_cli(export_dir, "-q", "build") == 0
    return export_dir


@pytest.mark.slow
def test_only_an_unreadable_creation_date_rejects_a_row(built: Path) -> None:
    loaded = query(built, "select deal_id, created_at from deals order by deal_id")
    assert loaded == [
        ("L1", datetime(2024, 2, 1)),
        ("O1", datetime(2024, 2, 15)),
        ("O2", None),
        ("O3", None),
        ("W1", datetime(2024, 1, 1)),
        ("W2", None),
    ]
    ((line, column, reason),) = query(
        built, "select source_row, column_name, reason from rejected_rows"
    )
    assert (line, column) == (8, "created_at")
    assert reason.startswith("created_at: cannot read 'not-a-date'")
    assert query(built, "select as_of from build_params") == [(AS_OF,)]


@pytest.mark.slow
def test_win_rate_and_open_pipeline_count_them_cycle_time_does_not(built: Path) -> None:
    ((won, lost, win_rate, win_rate_amount, open_deals, pipeline, cycle, created),) = query(
        built,
        "select won_deals, lost_deals, win_rate, win_rate_amount, open_deals, "
        "open_pipeline_base, mean_cycle_days_won, created_deals from mart_kpis",
    )
    # Won W1 and W2, lost L1: 2 of 3; by amount (1000 + 3000) / (1000 + 3000 + 500).
    assert (won, lost) == (2, 1)
    assert win_rate == pytest.approx(2 / 3)
    assert win_rate_amount == pytest.approx(4000 / 4500)
    # Open O1, O2, O3: 2000 + 400 + 600.
    assert (open_deals, pipeline) == (3, 3000)
    # Only W1 has a cycle: Jan 1 to Jan 11. W2 has none, so it does not count as 0 days.
    assert cycle == pytest.approx(10.0)
    # Created in the window: W1, L1 and O1 only.
    assert created == 3
    cycles = query(built, "select deal_id, cycle_days from mart_deal_cycle order by deal_id")
    assert cycles == [("L1", pytest.approx(20.0)), ("W1", pytest.approx(10.0)), ("W2", None)]


@pytest.mark.slow
def test_data_quality_counts_them_and_measurability_says_what_leaves_them_out(built: Path) -> None:
    ((severity, affected, samples, share),) = query(
        built,
        "select severity, deals_affected, sample_ids, share_of_deals from mart_data_quality "
        "where check_name = 'missing_created_at'",
    )
    assert (severity, affected, samples) == ("warning", 3, ["O2", "O3", "W2"])
    assert share == pytest.approx(3 / 6)
    measures = query(
        built,
        "select metric, measurable, reason, deals_affected, deals_considered "
        "from mart_measurability where metric in ('cycle_time', 'time_windows') order by metric",
    )
    assert measures == [
        ("cycle_time", True, "missing_created_at", 3, 6),
        ("time_windows", True, None, 0, 3),
    ]


@pytest.mark.slow
def test_the_report_says_which_figures_leave_them_out(built: Path) -> None:
    reports = built / "reports"
    assert run_cli(built, "-q", "report", "--output-dir", str(reports)) == 0
    page = (reports / "latest.html").read_text(encoding="utf-8")
    assert (
        "3 of 6 deals have no creation date: the sales cycle, the deals and pipeline created"
        in (text_of(section_html(page, "summary")))
    )
    assert "3 of 6 deals have no creation date: each counts as created when an export first" in (
        text_of(section_html(page, "flow"))
    )
    # Of the closed W1, W2 and L1, W2 has no creation date.
    assert "1 of the 3 closed deals have no creation date and are left out of the time" in (
        text_of(section_html(page, "speed"))
    )


@pytest.mark.slow
def test_a_past_as_of_knows_them_from_their_first_stage_change_or_export(built: Path) -> None:
    """As of Feb 22, O3 (first changed Feb 20) was known; W2 and O2 (first exported Mar 1) not."""
    assert run_cli(built, "-q", "build", "--as-of", "2024-02-22") == 0
    known = query(built, "select deal_id, status, known_from from int_deals_as_of order by deal_id")
    assert known == [
        ("L1", "lost", datetime(2024, 2, 1)),
        ("O1", "open", datetime(2024, 2, 15)),
        ("O3", "open", datetime(2024, 2, 20)),
        ("W1", "won", datetime(2024, 1, 1)),
    ]
    ((open_deals, pipeline),) = query(built, "select open_deals, open_pipeline_base from mart_kpis")
    assert (open_deals, pipeline) == (2, 2600)


def test_the_forecast_gives_a_deal_without_an_age_to_the_next_basis() -> None:
    """A rich deal-age history serves the deal with an age; the one without falls to win_rate."""
    # 40 deals closed at 10 days, 20 won and 20 lost: enough outcomes for the deal-age model.
    deal_ages = pl.DataFrame(
        {
            "pipeline": ["default"] * 40,
            "deal_type": [None] * 40,
            "outcome": ["won"] * 20 + ["lost"] * 20,
            "age_at_as_of": [100.0] * 40,
            "days_to_close": [10.0] * 40,
        },
        schema_overrides={"deal_type": pl.String},
    )
    no_stints = pl.DataFrame(
        schema={
            "pipeline": pl.String,
            "stage": pl.String,
            "stint_days": pl.Float64,
            "age_at_as_of": pl.Float64,
            "outcome": pl.String,
            "days_to_close": pl.Float64,
        }
    )
    open_deals = pl.DataFrame(
        {
            "pipeline": ["default", "default"],
            "stage": [None, None],
            "stage_age_days": [None, None],
            "crm_probability": [None, None],
            "stage_probability": [None, None],
            "deal_type": [None, None],
            "deal_age_days": [0.0, None],
        },
        schema_overrides={
            "stage": pl.String,
            "stage_age_days": pl.Float64,
            "crm_probability": pl.Float64,
            "stage_probability": pl.Float64,
            "deal_type": pl.String,
            "deal_age_days": pl.Float64,
        },
    )
    history = OutcomeHistory(no_stints, deal_ages, win_rate=0.5)
    model = outcome_model(open_deals, history, np.array([31.0, 61.0]), np.array([-1, -1]))
    assert model.basis == ["deal_age", "win_rate"]
    # Age 0: half won at day 10, within the first month.
    assert model.cumulative[model.deal_class[0]] == pytest.approx([0.5, 0.5])
