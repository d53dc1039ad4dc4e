"""Recorded commands: lock the warehouse, record the command in `runs`, run its steps in order.

A `runs` row is written before any work ('running') and updated with the outcome at the end:

- 'succeeded': every step did its work;
- 'partial': the command finished, but some input rows were rejected, or a step the data cannot
  support (`errors.StepSkipped`: a backtest with under six months, a forecast with no closed
  deals...) was skipped with a warning saying why; exit code 0 (4 for rejected rows with
  `[run] fail_on_rejected_rows = true`);
- 'failed': a step failed; `error` names it. Most failures stop the command there. A step listed in
  `RecordedCommand.may_fail` (in `run`: backtest and forecast) does not: its error is recorded,
  the next steps still run (so `run` still writes the report), and the exit code is that error's
  (1 when unexpected);
- 'interrupted': Ctrl-C or SIGTERM.

Every step that ran gets a `run_steps` row as it ends: 'succeeded', 'skipped' or 'failed' with the
one-line reason (an interrupted step is 'failed' with "interrupted ..."); the report reads the
latest rows of the forecast and backtest to say why a section has no numbers.

A process killed outright cannot update its row; the next command finds it still 'running' while
holding the lock, so nobody else can be running it, and marks it 'interrupted'. Each step commits
its own work in transactions, so that next command simply does the whole job again: files already
loaded are skipped, the build and forecast run afresh.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import duckdb

from pipeline_analytics.config import RunSettings
from pipeline_analytics.errors import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNEXPECTED,
    LockBusy,
    PipelineError,
    StepSkipped,
)
from pipeline_analytics.lock import POLL_SECONDS, WarehouseLock
from pipeline_analytics.logs import PROGRESS, report_error
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

Step = Callable[[duckdb.DuckDBPyConnection], dict[str, object]]
OUTCOME_COLUMNS = (
    "files_loaded",
    "rows_loaded",
    "rows_rejected",
    "forecast_run_id",
    "report_path",
)
# A step's result may carry a one-line note for its `run_steps` row (e.g. why it had nothing to do).
STEP_NOTE = "note"
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
    # Steps whose error is recorded without stopping the command: what the later steps need does
    # not depend on them (`run` writes the report without a forecast or a backtest).
    may_fail: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StepOutcome:
    """How one step ended: its `run_steps` status and message, and its fields for `runs`."""

    step: str
    status: str  # 'succeeded' | 'skipped' | 'failed'
    message: str | None = None
    exit_code: int = EXIT_OK
    fields: dict[str, object] = field(default_factory=dict)


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
    outcomes: list[StepOutcome] = []
    current = ""
    PROGRESS.start(len(cmd.steps))
    try:
        with _sigterm_as_interrupt():
            for current, step in cmd.steps:
                outcome = _run_step(con, run_id, current, step, may_fail=current in cmd.may_fail)
                _record_step(con, run_id, outcome)
                outcomes.append(outcome)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        message = _failure(current, exc).message if isinstance(exc, Exception) else one_line(exc)
        _abandon_transaction(con)
        # run_steps knows three outcomes; an interrupted step did not do its work, so it failed.
        step_message = f"interrupted: {message}" if status == "interrupted" else message
        _record_step(con, run_id, StepOutcome(current, "failed", step_message))
        fields = _fields(outcomes)
        _finish_run(con, run_id, status, fields, f"{current}: {message}")
        _log_finished(cmd.command, run_id, status, started, fields)
        raise
    finally:
        PROGRESS.finish()
    return _finish(con, cmd, run_id, started, outcomes)


def _finish(
    con: duckdb.DuckDBPyConnection,
    cmd: RecordedCommand,
    run_id: int,
    started: float,
    outcomes: list[StepOutcome],
) -> int:
    """Record how a command that ran all its steps went; return its exit code."""
    fields = _fields(outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    rejected = int(fields.get("rows_rejected") or 0)
    if failed:
        status, exit_code = "failed", failed[0].exit_code
    else:
        status = "partial" if rejected or skipped else "succeeded"
        exit_code = EXIT_PARTIAL if rejected and cmd.settings.fail_on_rejected_rows else EXIT_OK
    error = "; ".join(f"{o.step}: {o.message}" for o in failed) or None
    _finish_run(con, run_id, status, fields, error)
    _log_finished(
        cmd.command,
        run_id,
        status,
        started,
        {**fields, "exit_code": exit_code, "steps_skipped": [o.step for o in skipped]},
    )
    if failed:
        _report_failed_steps(failed, outcomes, exit_code)
    elif rejected:
        _report_rejects(run_id, rejected, exit_code)
    return exit_code


def _fields(outcomes: list[StepOutcome]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for outcome in outcomes:
        fields.update(outcome.fields)
    return fields


def one_line(exc: BaseException) -> str:
    """The first line of an error's message, or its type when it has none."""
    return str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__


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
    con: duckdb.DuckDBPyConnection, run_id: int, name: str, step: Step, *, may_fail: bool
) -> StepOutcome:
    """Run one step. A skip, and when `may_fail` an error, is logged and returned; others raise."""
    PROGRESS.begin_step(name)
    log.info("%s started", name, extra={"event": "step_started", "run_id": run_id, "step": name})
    step_started = time.monotonic()
    try:
        result = step(con)
    except StepSkipped as exc:
        _abandon_transaction(con)
        outcome = StepOutcome(name, "skipped", one_line(exc))
        log.warning(
            "%s",
            step_line(name, "skipped", outcome.message),
            extra={"event": "step_skipped", "run_id": run_id, "step": name},
        )
    except Exception as exc:
        if not may_fail:
            raise
        _abandon_transaction(con)
        outcome = _failure(name, exc)
        log.debug("traceback", exc_info=True)
        log.error(
            "%s; going on without it",
            step_line(name, "failed", outcome.message),
            extra={"event": "step_failed", "run_id": run_id, "step": name},
        )
    else:
        fields = {key: value for key, value in result.items() if key != STEP_NOTE}
        note = result.get(STEP_NOTE)
        outcome = StepOutcome(name, "succeeded", None if note is None else str(note), fields=fields)
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
    PROGRESS.end_step()
    return outcome


def step_line(step: str, status: str, message: str | None) -> str:
    """`backtest skipped: <why>`, without repeating a step name the message already starts with."""
    text = message or ""
    return text if text.startswith(f"{step} ") else f"{step} {status}: {text}"


def _failure(step: str, exc: Exception) -> StepOutcome:
    """A failed step: a PipelineError's own line and exit code, else an unexpected error (1)."""
    if isinstance(exc, PipelineError):
        return StepOutcome(step, "failed", one_line(exc), exc.exit_code)
    message = f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0]
    return StepOutcome(step, "failed", message, EXIT_UNEXPECTED)


def _record_step(con: duckdb.DuckDBPyConnection, run_id: int, outcome: StepOutcome) -> None:
    # Naive UTC, as forecast_runs.created_at: the report compares the two to tell a step that
    # failed after the stored forecast from one before it.
    finished = datetime.now(UTC).replace(tzinfo=None)
    con.execute(
        "insert into run_steps (run_id, step, status, message, finished_at) values (?, ?, ?, ?, ?)",
        [run_id, outcome.step, outcome.status, outcome.message, finished],
    )


def _abandon_transaction(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back what a step stopped in the middle of left open (nothing when it had none)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("rollback")


def _report_failed_steps(failed: list[StepOutcome], outcomes: list[StepOutcome], code: int) -> None:
    """The command's last word: which steps failed, and which still did their work after them."""
    first = outcomes.index(failed[0])
    went_on = [o.step for o in outcomes[first + 1 :] if o.status != "failed"]
    unexpected = any(o.exit_code == EXIT_UNEXPECTED for o in failed)
    report_error(
        "; ".join(step_line(o.step, "failed", o.message) for o in failed)
        + (f"; {', '.join(went_on)} still ran" if went_on else "")
        + (" (please report this with the command you ran)" if unexpected else ""),
        code,
    )


def _report_rejects(run_id: int, rejected: int, exit_code: int) -> None:
    where = "`pipeline-analytics rejects` (line, column and reason of each)"
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
        con.execute(sql_statement("ops/mark_interrupted_runs"))
        log.warning(
            "run(s) %s ended without recording an outcome (killed?); marked interrupted, and "
            "this run redoes their work",
            ", ".join(f"#{run_id}" for run_id in stale),
            extra={"event": "runs_interrupted", "run_ids": stale},
        )
    return stale


def _start_run(con: duckdb.DuckDBPyConnection, command: str) -> int:
    run_id = int(con.execute("select nextval('run_id_seq')").fetchall()[0][0])
    con.execute(sql_statement("ops/start_run"), {"run_id": run_id, "command": command})
    return run_id


def _finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    outcome: dict[str, object],
    error: str | None,
) -> None:
    _abandon_transaction(con)
    con.execute(
        sql_statement("ops/finish_run"),
        {
            "run_id": run_id,
            "status": status,
            "error": error,
            **{column: outcome.get(column) for column in OUTCOME_COLUMNS},
        },
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
