"""Ingest of the generic adapter: conversion, rejects with line numbers, idempotency, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.ingest import batches
from tests.conftest import run_cli, write

DEALS = """
id,stage,created,closed,value,rep
D1,Won,2024-01-01,2024-03-01,1000,Ann
D2,Lost,2024-01-05,2024-02-01,500,Bob
D3,Proposal,2024-02-01,2024-12-31,2000,Ann
D4,Qualification,not-a-date,,300,Bob
D5,Prospecting,2024-03-01,,abc,Ann
D3,Proposal,2024-02-01,2024-12-31,2500,Ann
"""
HISTORY = """
deal_id,stage,changed_at
D1,Prospecting,2024-01-01
D1,Qualification,2024-01-10
D1,Proposal,2024-02-01
D1,Won,2024-03-01
D2,Prospecting,2024-01-05
D2,Qualification,2024-01-15
D2,Lost,2024-02-01
D3,Prospecting,2024-02-01
D3,Proposal,2024-03-01
D3,Proposal,2024-03-05
"""


def query(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def counts(folder: Path) -> dict[str, int]:
    tables = (
        "deals",
        "deal_stage_events",
        "deal_snapshots",
        "stage_changes",
        "rejected_rows",
        "ingest_batches",
    )
    return {t: query(folder, f"select count(*) from {t}")[0][0] for t in tables}


@pytest.fixture
def loaded(export_dir: Path) -> Path:
    write(export_dir / "deals.csv", DEALS)
    write(export_dir / "history.csv", HISTORY)
    assert run_cli(export_dir, "ingest") == 0
    return export_dir


@pytest.mark.slow
def test_rejects_carry_line_column_and_reason_and_the_rest_loads(loaded: Path) -> None:
    rejected = query(
        loaded, "select source_row, column_name, reason, raw_record from rejected_rows order by 1"
    )
    # Line 1 is the header: D3's first row (line 4) loses to its later duplicate (line 7).
    assert [(r[0], r[1]) for r in rejected] == [(4, "deal_id"), (5, "created_at"), (6, "amount")]
    assert "line 7" in rejected[0][2]
    assert "not-a-date" in rejected[1][2]
    assert "'abc'" in rejected[2][2]
    assert json.loads(rejected[2][3])["value"] == "abc"
    assert query(loaded, "select deal_id, amount from deals order by 1") == [
        ("D1", 1000.0),
        ("D2", 500.0),
        ("D3", 2500.0),
    ]
    batch = query(
        loaded,
        "select rows_read, rows_loaded, rows_rejected from ingest_batches where object = 'deals'",
    )
    assert batch == [(6, 3, 3)]  # count in = loaded + rejected


@pytest.mark.slow
def test_status_close_dates_and_snapshot(loaded: Path) -> None:
    rows = query(
        loaded,
        "select deal_id, status, stage_order, closed_at::date::varchar, "
        "expected_close_date::varchar, snapshot_at::varchar from deals order by 1",
    )
    assert rows == [
        # Closed deals: close column is the close date; open deal: it is the expected close.
        ("D1", "won", None, "2024-03-01", None, "2024-03-01 00:00:00"),
        ("D2", "lost", None, "2024-02-01", None, "2024-03-01 00:00:00"),
        # Snapshot = latest event (D1 closed 2024-03-01), never D3's future expected close.
        ("D3", "open", 3, None, "2024-12-31", "2024-03-01 00:00:00"),
    ]
    assert query(
        loaded, "select stage, is_won, is_lost from stages where stage_order is null order by 1"
    ) == [("Lost", False, True), ("Won", True, False)]


@pytest.mark.slow
def test_stage_events_collapse_repeats_and_end_at_next_change(loaded: Path) -> None:
    events = query(
        loaded,
        "select stage, entered_at::date::varchar, exited_at::date::varchar, stint, origin "
        "from deal_stage_events where deal_id = 'D3' order by entered_at",
    )
    # The repeated Proposal row on 03-05 (an edit, not a stage change) is not a new stint.
    assert events == [
        ("Prospecting", "2024-02-01", "2024-03-01", 1, "history"),
        ("Proposal", "2024-03-01", None, 1, "history"),
    ]


@pytest.mark.slow
def test_a_later_history_file_continues_the_stints_of_an_earlier_one(loaded: Path) -> None:
    # A newer history export: an edit row repeating D3's Proposal (not a new stint), then a move
    # back to Prospecting (its second stint), which ends the Proposal stint.
    write(
        loaded / "history.csv",
        "deal_id,stage,changed_at\nD3,Proposal,2024-03-20\nD3,Prospecting,2024-04-01\n",
    )
    assert run_cli(loaded, "ingest") == 0
    assert d3_stints(loaded) == [
        ("Prospecting", "2024-02-01", "2024-03-01", 1),
        ("Proposal", "2024-03-01", "2024-04-01", 1),
        ("Prospecting", "2024-04-01", None, 2),
    ]


def d3_stints(loaded: Path) -> list[tuple]:
    """Deal D3's stints: stage, entry and exit days, stint number."""
    return query(
        loaded,
        "select stage, entered_at::date::varchar, exited_at::date::varchar, stint "
        "from deal_stage_events where deal_id = 'D3' order by entered_at",
    )


@pytest.mark.slow
def test_an_overlapping_history_export_adds_only_the_changes_not_stored(loaded: Path) -> None:
    # The whole earlier history again (another file: its sha256 differs), plus one new change:
    # the changes already stored are not added twice, and the stints are as from one file.
    changes_before = query(
        loaded, "select deal_id, stage, changed_at from stage_changes order by all"
    )
    write(loaded / "history.csv", HISTORY.strip() + "\nD3,Negotiation,2024-04-01\n")
    assert run_cli(loaded, "ingest") == 0
    changes = query(loaded, "select deal_id, stage, changed_at from stage_changes order by all")
    assert len(changes) == len(changes_before) + 1
    assert set(changes) - set(changes_before) == {
        ("D3", "Negotiation", query(loaded, "select timestamp '2024-04-01'")[0][0])
    }
    assert d3_stints(loaded) == [
        ("Prospecting", "2024-02-01", "2024-03-01", 1),
        ("Proposal", "2024-03-01", "2024-04-01", 1),
        ("Negotiation", "2024-04-01", None, 1),
    ]


@pytest.mark.slow
def test_regression_creates_second_stint(export_dir: Path) -> None:
    write(
        export_dir / "deals.csv",
        "id,stage,created,closed,value,rep\nR1,Won,2024-01-01,2024-02-01,10,Ann\n",
    )
    write(
        export_dir / "history.csv",
        """
        deal_id,stage,changed_at
        R1,Prospecting,2024-01-01
        R1,Qualification,2024-01-05
        R1,Prospecting,2024-01-08
        R1,Qualification,2024-01-20
        """,
    )
    assert run_cli(export_dir, "ingest") == 0
    events = query(
        export_dir,
        "select stage, stint, entered_at::date::varchar, "
        "exited_at::date::varchar from deal_stage_events order by 3",
    )
    # No terminal row in the history: the last open stint ends when the deal closed.
    assert events == [
        ("Prospecting", 1, "2024-01-01", "2024-01-05"),
        ("Qualification", 1, "2024-01-05", "2024-01-08"),
        ("Prospecting", 2, "2024-01-08", "2024-01-20"),
        ("Qualification", 2, "2024-01-20", "2024-02-01"),
    ]


@pytest.mark.slow
def test_deal_without_history_gets_one_current_only_event(export_dir: Path) -> None:
    write(
        export_dir / "p.toml",
        (export_dir / "p.toml").read_text().replace('history = "history.csv"', ""),
    )
    write(
        export_dir / "deals.csv",
        "id,stage,created,closed,value,rep\n"
        "N1,Prospecting,2024-01-01,,10,Ann\nN2,Proposal,2024-01-02,,10,Ann\n",
    )
    assert run_cli(export_dir, "ingest") == 0
    assert query(
        export_dir,
        "select deal_id, stage, entered_at::date::varchar, origin "
        "from deal_stage_events order by 1",
    ) == [
        ("N1", "Prospecting", "2024-01-01", "current_only"),  # first stage: entered at creation
        ("N2", "Proposal", None, "current_only"),  # when it reached Proposal is unknown
    ]


@pytest.mark.slow
def test_same_files_again_change_nothing(loaded: Path) -> None:
    before = counts(loaded)
    assert run_cli(loaded, "ingest") == 0
    assert counts(loaded) == before


def test_missing_mapped_column_fails_naming_headers(
    export_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(export_dir / "deals.csv", "id,stage,created,value\nD1,Won,2024-01-01,5\n")
    write(export_dir / "history.csv", HISTORY)
    assert run_cli(export_dir, "ingest") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "deals.csv" in err and "closed_at = 'closed'" in err
    assert "headers found: 'id', 'stage', 'created', 'value'" in err


@pytest.mark.slow
def test_failed_file_leaves_warehouse_as_it_was(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(loaded)
    write(loaded / "deals.csv", DEALS + "D9,Prospecting,2024-03-02,,70,Ann\n")

    def crash(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(batches, "_finish_batch", crash)  # the last write before commit
    assert run_cli(loaded, "ingest") == 1
    after = counts(loaded)
    assert after == before
    assert query(loaded, "select count(*) from deals where deal_id = 'D9'") == [(0,)]


@pytest.mark.slow
def test_newer_export_updates_deal_and_appends_snapshot(loaded: Path) -> None:
    write(
        loaded / "deals.csv",
        """
        id,stage,created,closed,value,rep
        D3,Won,2024-02-01,2024-04-02,2600,Ann
        """,
    )
    assert run_cli(loaded, "ingest") == 0
    assert query(
        loaded, "select status, amount, closed_at::date::varchar from deals where deal_id = 'D3'"
    ) == [("won", 2600.0, "2024-04-02")]
    assert query(
        loaded, "select status from deal_snapshots where deal_id = 'D3' order by snapshot_at"
    ) == [("open",), ("won",)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("encoding", "delimiter"), [("utf-8-sig", ";"), ("cp1252", "\t"), ("utf-16", ",")]
)
def test_encodings_and_delimiters(export_dir: Path, encoding: str, delimiter: str) -> None:
    rows = [
        ["id", "stage", "created", "closed", "value", "rep"],
        ["E1", "Won", "2024-01-01", "2024-02-01", "10", "Zoë Müller €"],
    ]
    write(
        export_dir / "deals.csv",
        "\n".join(delimiter.join(r) for r in rows) + "\n",
        encoding=encoding,
    )
    write(export_dir / "history.csv", "deal_id,stage,changed_at\nE1,Won,2024-02-01\n")
    assert run_cli(export_dir, "ingest") == 0
    assert query(export_dir, "select owner, amount from deals") == [("Zoë Müller €", 10.0)]


@pytest.mark.slow
def test_ragged_lines_are_rejected_with_their_line(export_dir: Path) -> None:
    write(
        export_dir / "deals.csv",
        """
        id,stage,created,closed,value,rep
        A1,Won,2024-01-01,2024-02-01,10,Ann
        A2,Won,2024-01-01,2024-02-01,10,Ann,extra
        A3,Won,2024-01-01,2024-02-01,10,Ann
        A4,Won,2024-01-01
        """,
    )
    write(export_dir / "history.csv", "deal_id,stage,changed_at\nA1,Won,2024-02-01\n")
    assert run_cli(export_dir, "ingest") == 0
    assert query(export_dir, "select source_row from rejected_rows order by 1") == [(3,), (5,)]
    assert query(export_dir, "select deal_id from deals order by 1") == [("A1",), ("A3",)]
    assert query(
        export_dir,
        "select rows_read, rows_loaded, rows_rejected from ingest_batches where object = 'deals'",
    ) == [(4, 2, 2)]


@pytest.mark.parametrize("suffix", ["parquet", "xlsx"])
def test_xlsx_and_parquet_load_like_csv(export_dir: Path, suffix: str) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "id": ["X1", "X2"],
            "stage": ["Won", "Prospecting"],
            "created": ["2024-01-01"] * 2,
            "closed": ["2024-02-01", None],
            "value": ["10", "bad"],
            "rep": ["Ann", "Bob"],
        }
    )
    if suffix == "parquet":
        frame.to_parquet(export_dir / "deals.parquet")
    else:
        frame.to_excel(export_dir / "deals.xlsx", index=False)
    write(
        export_dir / "p.toml",
        (export_dir / "p.toml")
        .read_text()
        .replace('path = "deals.csv"', f'path = "deals.{suffix}"')
        .replace('history = "history.csv"', ""),
    )
    assert run_cli(export_dir, "ingest") == 0
    assert query(export_dir, "select deal_id, amount from deals") == [("X1", 10.0)]
    # Spreadsheet row 1 is the header, so the second data row is row 3; Parquet has no header row.
    expected_row = 3 if suffix == "xlsx" else 2
    assert query(export_dir, "select source_row, column_name from rejected_rows") == [
        (expected_row, "amount")
    ]
