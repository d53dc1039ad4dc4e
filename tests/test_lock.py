"""One writer at a time: a busy warehouse names its holder, --wait waits, a dead lock clears."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from pipeline_analytics.errors import LockBusy
from pipeline_analytics.lock import WarehouseLock, lock_path
from tests.conftest import REPO, run_cli
from tests.run_fixtures import copy_folder, harness, new_folder, query, write_export

NIGHT = datetime(2026, 5, 3, 23, 0)

# --- the lock itself, two holders in this process (flock locks belong to open files) -----------


def test_busy_lock_names_its_holder_at_once(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with WarehouseLock(db, "run") as holder:
        holder.acquire()
        details = json.loads(lock_path(db).read_text())
        started = time.monotonic()
        with pytest.raises(LockBusy) as busy:
            WarehouseLock(db, "build").acquire()
        assert time.monotonic() - started < 0.5
    message = str(busy.value)
    assert f"pid {os.getpid()}" in message
    assert f"started {details['started_at']}" in message
    assert "(`run`)" in message and "--wait SECONDS" in message
    assert lock_path(db).read_text() == ""  # released cleanly: nothing stale left behind


def test_wait_gives_up_after_the_given_seconds(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with WarehouseLock(db, "run") as holder:
        holder.acquire()
        started = time.monotonic()
        with pytest.raises(LockBusy, match="after waiting 0.6 s"):
            WarehouseLock(db, "run").acquire(wait_seconds=0.6)
        assert 0.6 <= time.monotonic() - started < 3


def test_wait_takes_the_lock_once_the_holder_finishes(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    holder = WarehouseLock(db, "run")
    holder.acquire()
    threading.Timer(0.4, holder.release).start()
    started = time.monotonic()
    with WarehouseLock(db, "run") as waiter:
        waiter.acquire(wait_seconds=10)
        assert 0.4 <= time.monotonic() - started < 5
        assert json.loads(lock_path(db).read_text())["command"] == "run"


def test_a_lock_left_by_a_dead_holder_is_taken_over_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "w.duckdb"
    # What the kernel does when a holder is killed: its descriptor closes, the content stays.
    dead = {"pid": 999999, "hostname": "nightly", "command": "run", "started_at": "2026-05-01"}
    lock_path(db).write_text(json.dumps(dead))
    with caplog.at_level(logging.WARNING), WarehouseLock(db, "run") as lock:
        lock.acquire()
    assert "stale lock" in caplog.text
    assert "pid 999999 on nightly (`run`), started 2026-05-01" in caplog.text


# --- against real processes ----------------------------------------------------------------


@pytest.fixture(scope="module")
def export_landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = new_folder(tmp_path_factory.mktemp("lock") / "base")
    write_export(folder, NIGHT)
    return folder


def start_holding(folder: Path, action: str) -> subprocess.Popen[str]:
    """A `run` that stops inside its build (holding the lock) and prints HOLDING."""
    process = subprocess.Popen(
        harness(folder, "call:pipeline_analytics.build:build@1", action, "-q", "run"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "HOLDING"
    return process


@pytest.mark.slow
def test_second_run_exits_3_then_the_killed_holder_is_cleared(
    export_landed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(export_landed, tmp_path / "w")
    holder = start_holding(folder, "hold")
    try:
        started = json.loads(lock_path(folder / "w.duckdb").read_text())["started_at"]
        began = time.monotonic()
        assert run_cli(folder, "run") == 3
        assert time.monotonic() - began < 2
        err = capsys.readouterr().err
        assert f"in use by pid {holder.pid}" in err and f"started {started}" in err
        assert run_cli(folder, "status") == 3  # DuckDB cannot be read meanwhile; say by whom
        assert f"being written by pid {holder.pid}" in capsys.readouterr().err
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()

    assert run_cli(folder, "run") == 0
    err = capsys.readouterr().err
    assert f"stale lock on {folder / 'w.duckdb'} left by pid {holder.pid}" in err
    assert query(folder, "select run_id, status from runs order by 1") == [
        (1, "interrupted"),
        (2, "succeeded"),
    ]


@pytest.mark.slow
def test_wait_runs_after_the_holder_finishes(export_landed: Path, tmp_path: Path) -> None:
    folder = copy_folder(export_landed, tmp_path / "w")
    holder = start_holding(folder, "pause:1")
    try:
        assert run_cli(folder, "-q", "run", "--wait", "60") == 0
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0
    runs = query(folder, "select run_id, status, files_loaded, started_at, finished_at from runs")
    (first, second) = sorted(runs)
    assert (first[1:3], second[1:3]) == (("succeeded", 2), ("succeeded", 0))
    assert second[3] >= first[4]  # the waiting run started after the first one finished


def test_warehouse_open_in_another_program_is_busy_too(
    export_landed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DuckDB shell or notebook holding the file never takes our lock; DuckDB's lock tells."""
    folder = copy_folder(export_landed, tmp_path / "w")
    script = (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('OPEN', flush=True); "
        "time.sleep(3600)"
    )
    shell = subprocess.Popen(
        [sys.executable, "-c", script, str(folder / "w.duckdb")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert shell.stdout is not None and shell.stdout.readline().strip() == "OPEN"
        assert run_cli(folder, "run", "--wait", "0.5") == 3
        assert f"(pid {shell.pid}), e.g. a DuckDB shell" in capsys.readouterr().err
    finally:
        shell.kill()
        shell.wait()
