"""Recorded commands: lock the warehouse, record the command in `runs`, run its steps in order.

A `runs` row is written before any work ('running') and updated with the outcome at the end:
'succeeded'; 'partial' (finished, but some input rows were rejected); 'failed' (the error names the
step); 'interrupted' (Ctrl-C or SIGTERM). A process killed outright cannot update its row; the next
command finds it still 'running' while holding the lock, so nobody else can be running it, and marks
it 'interrupted'. Each step commits its own work in transactions, so that next command simply does
the whole job again: files already loaded are skipped, the build and forecast run afresh.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import duckdb

from pipeline_analytics.config import RunSettings
from pipeline_analytics.errors import EXIT_OK, EXIT_PARTIAL, LockBusy
from pipeline_analytics.lock import POLL_SECONDS, WarehouseLock
from pipeline_analytics.logs import PROGRESS, report_error

log = logging.getLogger(__name__)

Step = Callable[[duckdb.DuckDBPyConnection], dict[str, object]]
OUTCOME_COLUMNS = (
    "files_loaded",
    "rows_loaded",
    "rows_rejected",
    "forecast_run_id",
    "report_path",
)
_DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*) \(PID (?P<pid>\d+)\)")


@dataclass(frozen=True)
class RecordedCommand:
    """A warehouse command: its name in `runs`, its named steps, and how to open the warehouse."""

    db_path: Path
    command: str
    steps: Sequence[tuple[str, Step]]
    connect: Callable[[], duckdb.DuckDBPyConnection]
    settings: RunSettings
    wait_seconds: float = 0.0


def execute(cmd: RecordedCommand) -> int:
    """Run the steps under the warehouse lock, recorded in `runs`; return the exit code."""
    started = time.monotonic()
    with locked_warehouse(cmd.db_path, cmd.command, cmd.connect, cmd.wait_seconds) as con:
        return _execute_locked(con, cmd, started)


@contextlib.contextmanager
def locked_warehouse(
    db_path: Path,
    command: str,
    connect: Callable[[], duckdb.DuckDBPyConnection],
    wait_seconds: float,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse, opened under its lock; LockBusy if another process holds either for longer."""
    started = time.monotonic()
    with WarehouseLock(db_path, command) as lock:
        lock.acquire(wait_seconds)
        remaining = max(0.0, wait_seconds - (time.monotonic() - started))
        con = open_warehouse(connect, db_path, remaining)
        try:
            yield con
        finally:
            con.close()


def open_warehouse(
    connect: Callable[[], duckdb.DuckDBPyConnection], db_path: Path, wait_seconds: float
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to wait_seconds while another program has it open.

    DuckDB lets one process write a database file (and none read it meanwhile); a DuckDB shell or a
    notebook holding the file shows up here even though it never takes our lock.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return connect()
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                holder = _DUCKDB_HOLDER.search(str(exc))
                who = f"{holder['program']} (pid {holder['pid']})" if holder else "another process"
                raise LockBusy(
                    f"warehouse {db_path} is open in {who}, e.g. a DuckDB shell or a notebook; "
                    "close it there, or pass --wait SECONDS to wait for it"
                ) from exc
            time.sleep(POLL_SECONDS)


def _execute_locked(con: duckdb.DuckDBPyConnection, cmd: RecordedCommand, started: float) -> int:
    mark_interrupted_runs(con)
    run_id = _start_run(con, cmd.command)
    log.info(
        "%s #%d started",
        cmd.command,
        run_id,
        extra={"event": "run_started", "run_id": run_id, "command": cmd.command},
    )
    outcome: dict[str, object] = {}
    current = ""
    PROGRESS.start(len(cmd.steps))
    try:
        with _sigterm_as_interrupt():
            for current, step in cmd.steps:
                outcome.update(_run_step(con, run_id, current, step))
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _finish_run(con, run_id, status, outcome, f"{current}: {message}")
        _log_finished(cmd.command, run_id, status, started, outcome)
        raise
    finally:
        PROGRESS.finish()
    rejected = int(outcome.get("rows_rejected") or 0)
    status = "partial" if rejected else "succeeded"
    _finish_run(con, run_id, status, outcome, None)
    exit_code = EXIT_PARTIAL if rejected and cmd.settings.fail_on_rejected_rows else EXIT_OK
    _log_finished(cmd.command, run_id, status, started, {**outcome, "exit_code": exit_code})
    if rejected:
        _report_rejects(run_id, rejected, exit_code)
    return exit_code


def _log_finished(
    command: str, run_id: int, status: str, started: float, fields: dict[str, object]
) -> None:
    seconds = time.monotonic() - started
    log.log(
        logging.INFO if status in ("succeeded", "partial") else logging.WARNING,
        "%s #%d %s in %.1f s",
        command,
        run_id,
        status,
        seconds,
        extra={
            "event": "run_finished",
            "run_id": run_id,
            "command": command,
            "status": status,
            "seconds": round(seconds, 3),
            **fields,
        },
    )


def _run_step(
    con: duckdb.DuckDBPyConnection, run_id: int, name: str, step: Step
) -> dict[str, object]:
    PROGRESS.begin_step(name)
    log.info("%s started", name, extra={"event": "step_started", "run_id": run_id, "step": name})
    step_started = time.monotonic()
    result = step(con)
    PROGRESS.end_step()
    log.info(
        "%s finished in %.1f s",
        name,
        time.monotonic() - step_started,
        extra={
            "event": "step_finished",
            "run_id": run_id,
            "step": name,
            "seconds": round(time.monotonic() - step_started, 3),
            **result,
        },
    )
    return result


def _report_rejects(run_id: int, rejected: int, exit_code: int) -> None:
    where = "table rejected_rows (line, column and reason of each)"
    if exit_code == EXIT_OK:
        log.warning(
            "%d input row(s) rejected; the rest loaded; see %s",
            rejected,
            where,
            extra={"event": "rows_rejected", "run_id": run_id, "rows_rejected": rejected},
        )
        return
    report_error(
        f"partial success: {rejected} input row(s) rejected (see {where}); exiting with "
        f"{exit_code} because [run] fail_on_rejected_rows = true",
        exit_code,
    )


def mark_interrupted_runs(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Runs left 'running' by a process that died; only call while holding the warehouse lock."""
    stale = [
        row[0]
        for row in con.execute(
            "select run_id from runs where status = 'running' order by run_id"
        ).fetchall()
    ]
    if stale:
        con.execute(
            """
            update runs set status = 'interrupted',
                error = 'ended without recording an outcome (killed, or the machine stopped)'
            where status = 'running'
            """
        )
        log.warning(
            "run(s) %s ended without recording an outcome (killed?); marked interrupted, and "
            "this run redoes their work",
            ", ".join(f"#{run_id}" for run_id in stale),
            extra={"event": "runs_interrupted", "run_ids": stale},
        )
    return stale


def _start_run(con: duckdb.DuckDBPyConnection, command: str) -> int:
    run_id = int(con.execute("select nextval('run_id_seq')").fetchall()[0][0])
    con.execute(
        "insert into runs (run_id, command, started_at, status) "
        "values (?, ?, current_timestamp::timestamp, 'running')",
        [run_id, command],
    )
    return run_id


def _finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    outcome: dict[str, object],
    error: str | None,
) -> None:
    with contextlib.suppress(duckdb.Error):  # a step stopped mid-transaction leaves it open
        con.execute("rollback")
    con.execute(
        f"""
        update runs set finished_at = current_timestamp::timestamp, status = ?, error = ?,
            {", ".join(f"{column} = ?" for column in OUTCOME_COLUMNS)}
        where run_id = ?
        """,
        [status, error, *(outcome.get(column) for column in OUTCOME_COLUMNS), run_id],
    )


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`systemctl stop` and `kill` send SIGTERM: stop like Ctrl-C, so the run is recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
