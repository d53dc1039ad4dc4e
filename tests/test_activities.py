"""Activities: the generic activities file through ingest, and the simulator's activities."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline_analytics.sample import simulate
from pipeline_analytics.sample.simulator import ACTIVITY_RATE_PER_DAY, OPEN_STAGES
from tests.conftest import run_cli, write

CONFIG = """
[[sources]]
name = "crm"
adapter = "generic"
path = "deals.csv"
activities = "activities*.csv"
[sources.columns]
deal_id = "id"
created_at = "created"
closed_at = "closed"
[sources.activity_columns]
deal_id = "deal"
occurred_at = "when"
activity_type = "kind"
owner = "who"
[sources.status]
won = ["Won"]
lost = ["Lost"]
[pipeline]
stages = ["Prospecting", "Proposal"]
currency = "USD"
"""


@pytest.fixture
def folder(tmp_path):
    write(tmp_path / "p.toml", CONFIG)
    write(
        tmp_path / "deals.csv",
        """
        id,stage,created,closed
        D1,Won,2024-01-01,2024-02-01
        D2,Proposal,2024-01-05,
        """,
    )
    return tmp_path


def warehouse(folder) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(folder / "w.duckdb"), read_only=True)


@pytest.mark.slow
def test_activities_load_with_rejects_by_line_and_load_once(folder):
    write(
        folder / "activities_1.csv",
        """
        deal,when,kind,who
        D1,2024-01-02 10:00,Call,ann
        D1,not a date,Email,ann
        ,2024-01-03,Call,ann
        D2,2024-01-06 09:30,Meeting,
        D1,2024-01-02 10:00,Call,ann
        """,
    )
    assert run_cli(folder, "-q", "ingest") == 0
    con = warehouse(folder)
    stored = con.execute(
        "select deal_id, activity_type, occurred_at::varchar, owner from activities order by all"
    ).fetchall()
    # the repeated line 6 is the same activity as line 2: stored once
    assert stored == [
        ("D1", "Call", "2024-01-02 10:00:00", "ann"),
        ("D2", "Meeting", "2024-01-06 09:30:00", None),
    ]
    rejects = con.execute(
        "select source_row, column_name, reason from rejected_rows order by source_row"
    ).fetchall()
    assert [(line, column) for line, column, _ in rejects] == [(3, "occurred_at"), (4, "deal_id")]
    assert "cannot read 'not a date'" in rejects[0][2]
    batch = con.execute(
        "select rows_read, rows_loaded, rows_rejected, snapshot_at::varchar from ingest_batches "
        "where object = 'activities'"
    ).fetchall()
    assert batch == [(5, 3, 2, "2024-01-06 09:30:00")]
    con.close()

    # The same file again is skipped; an overlapping newer export adds only the new activity.
    write(
        folder / "activities_2.csv",
        """
        deal,when,kind,who
        D2,2024-01-06 09:30,Meeting,
        D2,2024-01-20 15:00,Demo,bob
        """,
    )
    assert run_cli(folder, "-q", "ingest") == 0
    con = warehouse(folder)
    assert con.execute(
        "select count(*) from ingest_batches where object = 'activities'"
    ).fetchall() == [(2,)]
    assert con.execute("select count(*) from activities").fetchall() == [(3,)]
    con.close()


def test_a_missing_mapped_column_names_the_config_table(folder, capsys):
    write(folder / "activities.csv", "deal,kind,who\nD1,Call,ann\n")
    assert run_cli(folder, "ingest") == 2
    err = capsys.readouterr().err
    assert "occurred_at = 'when'" in err
    assert "[sources.activity_columns]" in err
    con = warehouse(folder)
    # the deals file loaded in its own transaction; the activities file left nothing behind
    assert con.execute("select object from ingest_batches").fetchall() == [("deals",)]
    assert con.execute("select count(*) from activities").fetchall() == [(0,)]
    con.close()


def test_a_file_of_only_bad_rows_fails_and_writes_nothing(folder, capsys):
    write(folder / "activities.csv", "deal,when,kind,who\nD1,someday,Call,ann\n,2024-01-01,x,y\n")
    assert run_cli(folder, "ingest") == 2
    err = capsys.readouterr().err
    assert "every row of the activities file was rejected (first: line 2" in err
    con = warehouse(folder)
    assert con.execute("select count(*) from rejected_rows").fetchall() == [(0,)]
    assert con.execute(
        "select count(*) from ingest_batches where object = 'activities'"
    ).fetchall() == [(0,)]
    con.close()


@pytest.fixture(scope="module")
def simulated():
    return simulate(3000, seed=4)


def test_simulated_activities_happen_while_deals_are_open(simulated):
    deals, activities = simulated.deals, simulated.activities
    assert activities.columns == ["opportunity_id", "activity_type", "completed_at", "assigned_to"]
    spans = activities.join(
        deals.select("opportunity_id", "engage_date", "last_modified", "deal_stage", "sales_agent"),
        on="opportunity_id",
    )
    assert (spans["completed_at"] >= spans["engage_date"]).all()
    closed = spans.filter(pl.col("deal_stage").is_in(["Won", "Lost"]))
    assert (closed["completed_at"] <= closed["last_modified"]).all()
    assert (spans["assigned_to"] == spans["sales_agent"]).all()
    assert activities.equals(activities.sort("opportunity_id", "completed_at", maintain_order=True))


def test_simulated_activity_counts_match_the_poisson_rates(simulated):
    """Total activities = sum over open-stage stints of rate x days, within 4 standard errors."""
    history, horizon = simulated.stage_history, simulated.truth["last_possible_event"]
    stints = (
        history.with_columns(
            exited=pl.col("changed_at")
            .shift(-1)
            .over("opportunity_id")
            .fill_null(pl.lit(horizon).str.to_datetime())
        )
        .filter(pl.col("stage").is_in(OPEN_STAGES))
        .with_columns(
            days=(pl.col("exited") - pl.col("changed_at")).dt.total_seconds() / 86_400,
            rate=pl.col("stage").replace_strict(
                {
                    name: float(ACTIVITY_RATE_PER_DAY[code])
                    for code, name in enumerate(OPEN_STAGES, start=1)
                }  # fmt: skip
            ),
        )
    )
    expected = float((stints["days"] * stints["rate"]).sum())
    # a sum of independent Poisson counts is Poisson: its variance is its mean
    assert abs(simulated.activities.height - expected) < 4 * np.sqrt(expected)
    assert expected > 10_000
