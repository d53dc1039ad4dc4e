"""The default as_of is the latest snapshot_at over every loaded file (deals, history, activities).

The deals file's last event is D4's creation on 10 March; the history file runs to D3 entering
Proposal on 20 March. as_of is 20 March, so D3 counts as having reached Proposal. By hand, for
Proposal (stage 3): D1 is won (a won deal reached every stage) and D3 entered it on 20 March,
so reached = 2 and open_here = 1 (D3); as of 10 March only D1 had reached it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import GENERIC_CONFIG, run_cli, write

DEALS = """
id,stage,created,closed,value,rep
D1,Won,2024-01-01,2024-03-01,1000,Ann
D2,Lost,2024-01-05,2024-02-01,500,Bob
D3,Qualification,2024-02-01,,2000,Ann
D4,Prospecting,2024-03-10,,300,Bob
"""
HISTORY = """
deal_id,stage,changed_at
D1,Prospecting,2024-01-01
D1,Qualification,2024-01-10
D1,Proposal,2024-02-01
D1,Won,2024-03-01
D2,Prospecting,2024-01-05
D2,Lost,2024-02-01
D3,Prospecting,2024-02-01
D3,Qualification,2024-02-15
D3,Proposal,2024-03-20
"""
PROPOSAL_SQL = "select reached, open_here from mart_stage_conversion where stage = 'Proposal'"


def query(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    write(tmp_path / "p.toml", GENERIC_CONFIG.format(history='history = "history.csv"'))
    write(tmp_path / "deals.csv", DEALS)
    write(tmp_path / "history.csv", HISTORY)
    assert run_cli(tmp_path, "ingest") == 0
    return tmp_path


def test_each_file_snapshot_is_its_latest_event(export: Path) -> None:
    assert query(export, "select object, snapshot_at from ingest_batches order by 1") == [
        ("deals", datetime(2024, 3, 10)),
        ("history", datetime(2024, 3, 20)),
    ]


@pytest.mark.slow
def test_as_of_is_the_history_files_last_change_and_it_counts(export: Path) -> None:
    assert run_cli(export, "build") == 0
    assert query(export, "select as_of from build_params") == [(datetime(2024, 3, 20),)]
    assert query(export, PROPOSAL_SQL) == [(2, 1)]
    # The deals file's own last event, as the default used to be: D3 not yet in Proposal.
    assert run_cli(export, "build", "--as-of", "2024-03-10") == 0
    assert query(export, PROPOSAL_SQL) == [(1, 0)]


def test_an_activities_file_counts_too(tmp_path: Path) -> None:
    config = GENERIC_CONFIG.format(history='activities = "activities.csv"')
    write(tmp_path / "p.toml", config)
    write(tmp_path / "deals.csv", DEALS)
    write(
        tmp_path / "activities.csv",
        """
        deal_id,activity_type,occurred_at,owner
        D3,call,2024-03-25 09:30:00,Ann
        """,
    )
    assert run_cli(tmp_path, "ingest") == 0
    assert run_cli(tmp_path, "build") == 0
    assert query(tmp_path, "select as_of from build_params") == [(datetime(2024, 3, 25, 9, 30),)]


def test_forecast_reads_the_builds_as_of(export: Path) -> None:
    from pipeline_analytics.forecast.asof import build_as_of

    assert run_cli(export, "build") == 0
    con = duckdb.connect(str(export / "w.duckdb"), read_only=True)
    try:
        assert build_as_of(con) == datetime(2024, 3, 20)
    finally:
        con.close()
