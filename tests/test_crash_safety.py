"""kill -9 in the middle of a nightly run: the warehouse stays consistent and the next run finishes.

Night 1 ran cleanly on the first export. Night 2's export (a deals and a history file) has landed
and night 2's run is killed with SIGKILL at one point of ingest, build, forecast or report. After
the kill the warehouse must hold night 1's state plus only the work that committed; the next run
must then leave it exactly as an uninterrupted night 2 would have (the reference).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, run_cli
from tests.run_fixtures import copy_folder, harness, new_folder, query, write_export

pytestmark = pytest.mark.slow

NIGHT_1 = datetime(2026, 5, 3, 23, 0)
NIGHT_2 = datetime(2026, 5, 10, 23, 0)

# Kill point -> ingest batches of night 2 that committed before it.
KILL_POINTS = {
    "ingest between files": ("call:pipeline_analytics.ingest:load_rows@2", 1),
    "ingest inside the deals file": ("sql:insert into deal_snapshots@1", 0),
    "build between two models": ("sql:create or replace table mart_kpis as@1", 2),
    "forecast while storing": ("sql:insert into forecast_deals@1", 2),
    "report before the rename": ("call:os:replace@1", 2),
}


def warehouse_state(folder: Path) -> dict[str, list[tuple]]:
    """Everything a run produces, without ids and clock times that legitimately differ."""
    sql = {
        "deals": "select * exclude (batch_id) from deals",
        "deal_snapshots": "select * exclude (batch_id) from deal_snapshots",
        "stage_changes": "select * exclude (batch_id) from stage_changes",
        "deal_stage_events": "select * from deal_stage_events",
        "ingest_batches": "select regexp_extract(file_path, '[^/]+$'), object, file_sha256, "
        "rows_read, rows_loaded, rows_rejected, snapshot_at, status from ingest_batches",
        "latest_forecast": "select month, component, mean from forecast_bookings "
        "where run_id = (select max(run_id) from forecast_runs)",
        **{name: f"select * from {name}" for name in model_tables(folder)},
    }
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return {
            name: sorted(map(rounded, con.execute(q).fetchall()), key=repr)
            for name, q in sql.items()
        }
    finally:
        con.close()


def rounded(row: tuple) -> tuple:
    """Floats to 10 significant digits: sums over rows in another order differ in the last bits."""
    return tuple(float(f"{v:.10g}") if isinstance(v, float) else v for v in row)


def model_tables(folder: Path) -> list[str]:
    rows = query(
        folder,
        "select table_name from duckdb_tables() "
        "where table_name like 'mart\\_%' escape '\\' or table_name like 'int\\_%' escape '\\' "
        "order by 1",
    )
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def after_night_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Night 1 done; night 2's export has landed but its run has not started."""
    folder = new_folder(tmp_path_factory.mktemp("crash") / "base")
    write_export(folder, NIGHT_1)
    assert run_cli(folder, "-q", "run") == 0
    write_export(folder, NIGHT_2)
    return folder


@pytest.fixture(scope="module")
def night_1_state(after_night_1: Path) -> dict:
    return warehouse_state(after_night_1)


@pytest.fixture(scope="module")
def reference(after_night_1: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The warehouse after an uninterrupted night 2."""
    folder = copy_folder(after_night_1, tmp_path_factory.mktemp("reference") / "w")
    assert run_cli(folder, "-q", "run") == 0
    return warehouse_state(folder)


@pytest.mark.parametrize("where", list(KILL_POINTS))
def test_kill_leaves_a_consistent_warehouse_and_the_next_run_completes(
    where: str, after_night_1: Path, night_1_state: dict, reference: dict, tmp_path: Path
) -> None:
    point, committed_batches = KILL_POINTS[where]
    folder = copy_folder(after_night_1, tmp_path / "w")
    reports_before = {p.name: p.read_bytes() for p in (folder / "reports").iterdir()}

    killed = subprocess.run(
        harness(folder, point, "kill", "-q", "run"), cwd=REPO, capture_output=True, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()

    after_kill = warehouse_state(folder)
    # Only whole files: every batch is 'loaded' and its snapshot rows all arrived.
    assert {row[-1] for row in after_kill["ingest_batches"]} == {"loaded"}
    assert len(after_kill["ingest_batches"]) == 2 + committed_batches
    assert query(
        folder,
        "select count(*) from ingest_batches b where object = 'deals' and rows_loaded <> "
        "(select count(*) from deal_snapshots s where s.batch_id = b.batch_id)",
    ) == [(0,)]
    # Models, forecast and report are all of night 1, or all of night 2 once committed.
    build_committed = where.startswith(("forecast", "report"))
    expected = reference if build_committed else night_1_state
    for table in model_tables(folder):
        assert after_kill[table] == expected[table], table
    assert query(folder, "select count(*) from forecast_runs") == [(2 if "report" in where else 1,)]
    for table in forecast_detail_tables(folder):  # no rows of an unrecorded forecast run
        orphans = (
            f"select count(*) from {table} where run_id not in (select run_id from forecast_runs)"
        )
        assert query(folder, orphans) == [(0,)], table
    dated_or_latest = {
        p.name: p.read_bytes() for p in (folder / "reports").iterdir() if not p.name.startswith(".")
    }
    assert dated_or_latest == reports_before  # no report half-written, none replaced
    leftovers = [p.name for p in (folder / "reports").iterdir() if p.name.startswith(".")]
    assert bool(leftovers) == ("report" in where)  # the temp file the killed write left
    assert all(name.endswith(".tmp") for name in leftovers)
    assert query(folder, "select status from runs order by run_id") == [
        ("succeeded",),
        ("running",),
    ]

    assert run_cli(folder, "-q", "run") == 0
    assert warehouse_state(folder) == reference
    assert query(folder, "select status from runs order by run_id") == [
        ("succeeded",),
        ("interrupted",),
        ("succeeded",),
    ]
    reports = sorted(p.name for p in (folder / "reports").iterdir())
    assert reports == ["latest.html", "pipeline-report-2026-05-03.html", report_name(folder)]
    latest = (folder / "reports" / "latest.html").read_bytes()
    assert latest == (folder / "reports" / report_name(folder)).read_bytes()


def forecast_detail_tables(folder: Path) -> list[str]:
    rows = query(
        folder,
        "select table_name from duckdb_columns() where column_name = 'run_id' "
        "and table_name like 'forecast\\_%' escape '\\' and table_name <> 'forecast_runs'",
    )
    assert len(rows) >= 2  # forecast_bookings, forecast_deals and whatever else a method stores
    return [r[0] for r in rows]


def report_name(folder: Path) -> str:
    (as_of,) = query(folder, "select as_of from build_params")[0]
    return f"pipeline-report-{as_of:%Y-%m-%d}.html"


def test_kill_from_outside_during_build(after_night_1: Path, reference: dict, tmp_path: Path):
    """`kill -9` sent by another process as soon as the run reports that the build started."""
    folder = copy_folder(after_night_1, tmp_path / "w")
    command = [
        sys.executable,
        "-m",
        "pipeline_analytics",
        "--config",
        str(folder / "p.toml"),
        "--db",
        str(folder / "w.duckdb"),
        "run",
        "--log-json",
    ]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    events = []
    assert process.stderr is not None
    for line in process.stderr:
        events.append(json.loads(line))
        if events[-1]["event"] == "step_started" and events[-1]["step"] == "build":
            os.kill(process.pid, signal.SIGKILL)
            break
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert [e["step"] for e in events if e["event"] == "step_finished"] == ["ingest"]

    assert query(folder, "select count(*), bool_and(status = 'loaded') from ingest_batches") == [
        (4, True)
    ]
    assert query(folder, "select status from runs order by run_id") == [
        ("succeeded",),
        ("running",),
    ]
    assert run_cli(folder, "-q", "run") == 0
    assert warehouse_state(folder) == reference


def test_sigterm_stops_the_run_and_records_it(after_night_1: Path, tmp_path: Path) -> None:
    """`systemctl stop` sends SIGTERM: the step rolls back and the run is marked interrupted."""
    folder = copy_folder(after_night_1, tmp_path / "w")
    process = subprocess.Popen(
        harness(folder, "call:pipeline_analytics.build:build@1", "hold", "run"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "HOLDING"
    process.terminate()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "interrupted (stopped by signal SIGTERM)" in err
    assert query(folder, "select status, error, files_loaded from runs order by run_id") == [
        ("succeeded", None, 2),
        ("interrupted", "build: stopped by signal SIGTERM", 2),
    ]
    assert query(folder, "select count(*) from ingest_batches") == [(4,)]
