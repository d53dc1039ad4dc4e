"""Dates that cannot be events (issue 14 items 2 and 3): non-finite values and times after the
file was loaded, in deals, history and activities files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.adapter_fixtures import batches, query
from tests.conftest import GENERIC_CONFIG, run_cli, write

pytestmark = pytest.mark.slow

ACTIVITY_SOURCE = """
activities = "activities.csv"
[sources.activity_columns]
deal_id = "deal"
occurred_at = "when"
activity_type = "kind"
"""


@pytest.fixture
def deals_dir(tmp_path: Path) -> Path:
    """A folder with a generic config reading deals.csv only."""
    write(tmp_path / "p.toml", GENERIC_CONFIG.format(history=""))
    return tmp_path


def test_a_typo_in_the_future_does_not_freeze_the_export(deals_dir: Path) -> None:
    write(
        deals_dir / "deals.csv",
        """
        id,stage,created,closed,value,rep
        D1,Won,2024-01-01,2094-03-01,1000,Ann
        D2,Proposal,2024-01-05,,500,Bob
        """,
    )
    assert run_cli(deals_dir, "ingest") == 0
    assert query(deals_dir, "select snapshot_at::varchar from ingest_batches") == [
        ("2024-01-05 00:00:00",)
    ]
    # The next export, where D2 was won: it updates D2 (it would not, after a 2094 snapshot).
    write(
        deals_dir / "deals.csv",
        """
        id,stage,created,closed,value,rep
        D2,Won,2024-01-05,2024-04-01,500,Bob
        """,
    )
    assert run_cli(deals_dir, "ingest") == 0
    assert query(deals_dir, "select deal_id, status, closed_at::varchar from deals order by 1") == [
        ("D1", "won", None),
        ("D2", "won", "2024-04-01 00:00:00"),
    ]
    assert run_cli(deals_dir, "build") == 0
    assert query(deals_dir, "select as_of::varchar from build_params") == [("2024-04-01 00:00:00",)]
    quality = dict(
        query(
            deals_dir,
            "select check_name, deals_affected from mart_data_quality "
            "where check_name in ('event_in_future', 'closed_without_close_date')",
        )
    )
    assert quality == {"event_in_future": 1, "closed_without_close_date": 1}


def test_the_load_moment_is_snapshot_at_when_given_with_a_day_of_tolerance(
    deals_dir: Path,
) -> None:
    write(
        deals_dir / "deals.csv",
        """
        id,stage,created,closed,value,rep
        D1,Won,2024-01-01,2024-03-01 20:00,1000,Ann
        D2,Lost,2024-01-02,2024-03-02 00:30,500,Bob
        """,
    )
    assert run_cli(deals_dir, "ingest", "--snapshot-at", "2024-03-01") == 0
    # 20:00 is within a day of the moment; 00:30 the next day but one is not.
    assert query(deals_dir, "select deal_id, closed_at::varchar from deals order by 1") == [
        ("D1", "2024-03-01 20:00:00"),
        ("D2", None),
    ]
    assert query(deals_dir, "select snapshot_at::varchar from ingest_batches") == [
        ("2024-03-01 00:00:00",)
    ]
    assert query(deals_dir, "select deal_id, column_name from flagged_values") == [
        ("D2", "closed_at")
    ]


def test_without_snapshot_at_the_moment_is_now(deals_dir: Path) -> None:
    soon = datetime.now(UTC) + timedelta(hours=12)
    later = datetime.now(UTC) + timedelta(days=2)
    write(
        deals_dir / "deals.csv",
        f"""
        id,stage,created,closed,value,rep
        D1,Won,2024-01-01,{soon:%Y-%m-%d %H:%M},1000,Ann
        D2,Won,2024-01-01,{later:%Y-%m-%d %H:%M},1000,Ann
        """,
    )
    assert run_cli(deals_dir, "ingest") == 0
    assert query(deals_dir, "select deal_id, closed_at is null from deals order by 1") == [
        ("D1", False),
        ("D2", True),
    ]
    assert query(deals_dir, "select snapshot_at::varchar from ingest_batches") == [
        (f"{soon:%Y-%m-%d %H:%M}:00",)
    ]


def test_history_rows_with_infinite_or_future_times_are_rejected(export_dir: Path) -> None:
    write(
        export_dir / "deals.csv",
        """
        id,stage,created,closed,value,rep
        D1,Proposal,2024-01-01,,1000,Ann
        """,
    )
    write(
        export_dir / "history.csv",
        """
        deal_id,stage,changed_at
        D1,Prospecting,2024-01-01
        D1,Qualification,infinity
        D1,Proposal,-infinity
        D1,Proposal,2094-01-01
        D1,Proposal,2024-02-01
        """,
    )
    assert run_cli(export_dir, "ingest") == 0
    rejects = query(
        export_dir,
        "select source_row, column_name, reason from rejected_rows order by source_row",
    )
    assert [(line, column) for line, column, _ in rejects] == [
        (3, "changed_at"),
        (4, "changed_at"),
        (5, "changed_at"),
    ]
    assert "'infinity' is not a finite date" in rejects[0][2]
    assert "'-infinity' is not a finite date" in rejects[1][2]
    assert "2094-01-01 00:00:00 is after the file was loaded" in rejects[2][2]
    assert batches(export_dir)[1][1:] == ("history", 5, 2, 3, 0)
    assert query(
        export_dir, "select snapshot_at::varchar from ingest_batches where object = 'history'"
    ) == [("2024-02-01 00:00:00",)]
    assert query(
        export_dir, "select stage, changed_at::varchar from stage_changes order by changed_at"
    ) == [("Prospecting", "2024-01-01 00:00:00"), ("Proposal", "2024-02-01 00:00:00")]


def test_activities_with_infinite_or_future_times_are_rejected(export_dir: Path) -> None:
    config = export_dir / "p.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('history = "history.csv"', ACTIVITY_SOURCE),
        encoding="utf-8",
    )
    write(
        export_dir / "deals.csv",
        """
        id,stage,created,closed,value,rep
        D1,Proposal,2024-01-01,,1000,Ann
        """,
    )
    write(
        export_dir / "activities.csv",
        """
        deal,when,kind
        D1,2024-01-02,Call
        D1,infinity,Call
        D1,2094-01-01,Email
        """,
    )
    assert run_cli(export_dir, "ingest") == 0
    rejects = query(
        export_dir, "select source_row, column_name, reason from rejected_rows order by 1"
    )
    assert [(line, column) for line, column, _ in rejects] == [
        (3, "occurred_at"),
        (4, "occurred_at"),
    ]
    assert "'infinity' is not a finite date" in rejects[0][2]
    assert "is after the file was loaded" in rejects[1][2]
    assert query(
        export_dir, "select snapshot_at::varchar from ingest_batches where object = 'activities'"
    ) == [("2024-01-02 00:00:00",)]


def test_an_infinite_valid_from_in_the_rates_file_fails_naming_the_line(
    deals_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = deals_dir / "p.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + 'rates_file = "rates.csv"\n', encoding="utf-8"
    )
    write(
        deals_dir / "rates.csv", "currency,valid_from,rate\nEUR,2024-01-01,1.1\nEUR,infinity,1.2\n"
    )
    write(deals_dir / "deals.csv", "id,stage,created,closed,value,rep\nD1,Won,2024-01-01,,1,Ann\n")
    assert run_cli(deals_dir, "ingest") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "rates.csv: line 3: currency 'EUR', valid_from 'infinity'" in error
