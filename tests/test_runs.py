"""Scheduled runs: nights in a row, run history, exit codes, logs, retention, freshness."""

from __future__ import annotations

import io
import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.config import RunSettings
from pipeline_analytics.retention import prune_reports
from pipeline_analytics.status import StatusContext, describe, last_run_steps_section
from pipeline_analytics.warehouse import connect, table_exists
from tests.conftest import run_cli
from tests.run_fixtures import copy_folder, new_folder, query, write_export

FIRST_NIGHT = datetime(2026, 3, 1, 23, 0)
# The nights of a schedule, each with the weeks (after FIRST_NIGHT) of the exports that landed
# since the night before: thirty weeks of a pipeline's life in seven runs, so each night brings
# weeks of changes, and nights differ in what landed: one export, two (a night the job did not
# run), none (the last).
NIGHTS = ((0,), (5,), (10, 15), (20,), (25,), (30,), ())
KEEP_REPORTS = 3


@pytest.mark.slow
def test_a_season_of_nightly_runs_loses_nothing(tmp_path: Path) -> None:
    folder = new_folder(tmp_path, f"keep_reports = {KEEP_REPORTS}")
    landed = []
    for weeks in NIGHTS:
        landed.append([write_export(folder, FIRST_NIGHT + timedelta(weeks=w)) for w in weeks])
        assert run_cli(folder, "-q", "run") == 0
    exports = [export for night in landed for export in night]
    # Between two exports deals are created, move on and close: each night has news to load.
    for before, after in itertools.pairwise(exports):
        changed = after.deals.join(before.deals, on="opportunity_id", how="left")
        assert (changed["deal_stage_right"].is_null()).any()  # new deals
        moved = changed.filter(pl.col("deal_stage") != pl.col("deal_stage_right"))
        assert moved.height > 0 and moved["deal_stage"].is_in(["Won", "Lost"]).any()

    runs = query(
        folder,
        "select run_id, command, status, files_loaded, rows_loaded, rows_rejected, "
        "forecast_run_id, report_path, error, finished_at >= started_at from runs order by 1",
    )
    # Each night loads its own files (earlier ones are skipped); its report is dated by the latest
    # export, so a night without one rewrites the same report.
    report_dates, last_date = [], ""
    for night in landed:
        last_date = f"{night[-1].snapshot_at:%Y-%m-%d}" if night else last_date
        report_dates.append(last_date)
    assert runs == [
        (
            n + 1,
            "run",
            "succeeded",
            2 * len(night),
            sum(e.deals.height + e.history.height for e in night),
            0,
            n + 1,
            str(folder / "reports" / f"pipeline-report-{report_dates[n]}.html"),
            None,
            True,
        )
        for n, night in enumerate(landed)
    ]
    # Snapshots accumulate: every export is in deal_snapshots, at its own snapshot time.
    assert query(
        folder, "select snapshot_at, count(*) from deal_snapshots group by 1 order by 1"
    ) == [(e.snapshot_at, e.deals.height) for e in exports]
    assert query(
        folder,
        "select count(*), count(distinct file_sha256) from ingest_batches where status = 'loaded'",
    ) == [(2 * len(exports), 2 * len(exports))]
    # The current state is the last export's.
    last = exports[-1]
    assert query(folder, "select deal_id, stage from deals order by 1") == sorted(
        last.deals.select("opportunity_id", "deal_stage").iter_rows()
    )
    assert query(folder, "select count(*) from stage_changes") == [
        (last.history.unique(["opportunity_id", "stage", "changed_at"]).height,)
    ]
    assert query(folder, "select count(*) from forecast_runs") == [(len(NIGHTS),)]
    assert query(
        folder, "select step, status, message, count(*) from run_steps group by all order by 1"
    ) == [
        ("backtest", "succeeded", "not run: [forecast] backtest_in_run = false", len(NIGHTS)),
        *(
            (step, "succeeded", None, len(NIGHTS))
            for step in ("build", "forecast", "ingest", "report")
        ),
    ]
    # Retention: the newest dated reports and latest.html; nothing else.
    assert sorted(p.name for p in (folder / "reports").iterdir()) == [
        "latest.html",
        *(f"pipeline-report-{d}.html" for d in sorted(set(report_dates))[-KEEP_REPORTS:]),
    ]


@pytest.fixture(scope="module")
def one_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose first export has landed and not been loaded yet."""
    folder = new_folder(tmp_path_factory.mktemp("runs") / "base")
    write_export(folder, FIRST_NIGHT)
    return folder


def with_bad_row(folder: Path) -> None:
    """Append a deal whose created date cannot be read: one rejected row."""
    deals_file = next((folder / "exports").glob("deals-*.csv"))
    with deals_file.open("a", encoding="utf-8") as out:
        out.write("OPP-BAD,Bad deal,Acme,Avery Chen,Inbound,New Business,Prospecting,100.0,USD,"
                  "not-a-date,,2026-03-01 10:00:00\n")  # fmt: skip


@pytest.mark.parametrize(("fail", "exit_code"), [("false", 0), ("true", 4)])
def test_rejected_rows_make_a_partial_run(
    one_night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fail: str, exit_code: int
) -> None:
    folder = copy_folder(one_night, tmp_path / "w")
    (folder / "p.toml").write_text(
        (folder / "p.toml").read_text() + f"\n[run]\nfail_on_rejected_rows = {fail}\n"
    )
    with_bad_row(folder)
    assert run_cli(folder, "ingest") == exit_code
    assert query(folder, "select status, rows_rejected from runs") == [("partial", 1)]
    err = capsys.readouterr().err
    assert "1 input row(s) rejected" in err
    assert ("fail_on_rejected_rows = true" in err) == (exit_code == 4)


def test_bad_config_exits_2_naming_the_key_before_touching_the_warehouse(
    one_night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(one_night, tmp_path / "w")
    (folder / "p.toml").write_text((folder / "p.toml").read_text() + "\n[run]\nkeep_reports = -1\n")
    assert run_cli(folder, "run") == 2
    assert "'run.keep_reports'" in capsys.readouterr().err
    assert not (folder / "w.duckdb").exists()


def test_a_failed_step_is_recorded_with_its_name(one_night: Path, tmp_path: Path) -> None:
    folder = copy_folder(one_night, tmp_path / "w")
    assert run_cli(folder, "-q", "build") == 2  # nothing ingested yet: bad input
    ((status, error),) = query(folder, "select status, error from runs")
    assert status == "failed"
    assert error.startswith("build: the warehouse has no deals yet")
    ((step, step_status, message),) = query(folder, "select step, status, message from run_steps")
    assert (step, step_status, f"build: {message}") == ("build", "failed", error)


def test_bad_input_in_ingest_stops_the_run_before_the_report(
    one_night: Path, tmp_path: Path
) -> None:
    """Ingest and build commit what the report reads: their errors stop `run` (exit 2)."""
    folder = copy_folder(one_night, tmp_path / "w")
    deals_file = next((folder / "exports").glob("deals-*.csv"))
    header, *rows = deals_file.read_text(encoding="utf-8").splitlines()
    deals_file.write_text(  # without its created-date column no row can be read
        "\n".join([header.replace("engage_date", "created"), *rows]) + "\n", encoding="utf-8"
    )
    assert run_cli(folder, "-q", "run") == 2
    assert query(folder, "select step, status from run_steps order by finished_at") == [
        ("ingest", "failed")
    ]
    assert query(folder, "select status from runs") == [("failed",)]
    assert not (folder / "reports").exists()


def test_an_interrupted_step_is_recorded_failed(
    one_night: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("stopped by signal SIGTERM")

    folder = copy_folder(one_night, tmp_path / "w")
    monkeypatch.setattr("pipeline_analytics.build.build", stop)
    assert run_cli(folder, "-q", "run") == 1
    assert query(folder, "select status, error from runs") == [
        ("interrupted", "build: stopped by signal SIGTERM")
    ]
    assert query(folder, "select step, status, message from run_steps order by finished_at") == [
        ("ingest", "succeeded", None),
        ("build", "failed", "interrupted: stopped by signal SIGTERM"),
    ]


def test_a_warehouse_from_before_run_steps_gains_the_table(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    old = duckdb.connect(str(db))
    old.execute("create table runs (run_id integer, command varchar, status varchar)")
    old.execute("insert into runs values (1, 'run', 'succeeded')")
    old.close()
    con = duckdb.connect(str(db), read_only=True)  # what `status` does: no migration
    try:
        lines = last_run_steps_section(StatusContext(con, RunSettings(), datetime(2026, 3, 1)))
    finally:
        con.close()
    assert lines[1] == "  not recorded by this warehouse's version; the next command records them"
    con = connect(db)
    try:
        assert table_exists(con, "run_steps")
        assert con.execute("select * from runs").fetchall() == [(1, "run", "succeeded")]
    finally:
        con.close()


@pytest.mark.slow
def test_json_logs_one_object_per_event(
    one_night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(one_night, tmp_path / "w")
    assert run_cli(folder, "run", "--log-json") == 0
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    steps = [(e["event"], e["step"]) for e in events if e["event"].startswith("step_")]
    assert steps == [
        (f"step_{phase}", step)
        for step in ("ingest", "build", "backtest", "forecast", "report")
        for phase in ("started", "finished")
    ]
    ingest = next(e for e in events if e["event"] == "step_finished" and e["step"] == "ingest")
    assert (ingest["files_loaded"], ingest["rows_rejected"]) == (2, 0)
    finished = events[-1]
    assert finished["event"] == "run_finished"
    assert (finished["status"], finished["exit_code"], finished["run_id"]) == ("succeeded", 0, 1)

    assert main(["--log-json", "--config", str(tmp_path / "missing.toml"), "run"]) == 2
    error = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert (error["event"], error["level"], error["exit_code"]) == ("error", "error", 2)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [Terminal, io.StringIO])
def test_progress_bar_only_on_a_terminal(
    one_night: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: type[io.StringIO]
) -> None:
    folder = copy_folder(one_night, tmp_path / "w")
    err = stream()
    monkeypatch.setattr("sys.stderr", err)
    assert run_cli(folder, "ingest") == 0
    text = err.getvalue()
    assert ("] 1/1 ingest" in text) == (stream is Terminal)
    assert ("\r" in text) == (stream is Terminal)
    assert "INFO ingest #1 started" in text


def test_retention_keeps_the_newest_dated_reports_and_clears_unfinished_writes(
    tmp_path: Path,
) -> None:
    names = [
        "pipeline-report-2026-01-31.html",
        "pipeline-report-2026-02-28.html",
        "pipeline-report-2025-12-31.html",
        "pipeline-report-2026-03-31.html",
        "latest.html",
        ".pipeline-report-2026-04-30.html.k3j2.tmp",  # a report write killed before its rename
        ".latest.html.a8f1.tmp",
        "notes.txt",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    removed = prune_reports(tmp_path, keep=2)
    assert sorted(p.name for p in removed) == [
        ".latest.html.a8f1.tmp",
        ".pipeline-report-2026-04-30.html.k3j2.tmp",
        "pipeline-report-2025-12-31.html",
        "pipeline-report-2026-01-31.html",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "latest.html",
        "notes.txt",
        "pipeline-report-2026-02-28.html",
        "pipeline-report-2026-03-31.html",
    ]
    assert prune_reports(tmp_path, keep=0) == []  # 0 keeps every report


@pytest.mark.slow
def test_status_warns_when_data_is_stale(
    one_night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(one_night, tmp_path / "w")
    assert run_cli(folder, "-q", "run") == 0
    ((snapshot_at, finished_at),) = query(
        folder,
        "select (select max(snapshot_at) from ingest_batches), finished_at from runs",
    )
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        settings = RunSettings(stale_after_days=3)
        fresh = describe(con, folder / "w.duckdb", settings, now=snapshot_at + timedelta(days=2.9))
        # The simulated export is months older than the run: 3.5 days after the snapshot the data
        # is stale while the run itself (finished just now) is not.
        stale = describe(con, folder / "w.duckdb", settings, now=snapshot_at + timedelta(days=3.5))
        run_stale = describe(
            con, folder / "w.duckdb", settings, now=finished_at + timedelta(days=4)
        )
    finally:
        con.close()
    assert (
        f"newest export         snapshot {snapshot_at:%Y-%m-%d %H:%M} UTC (2.9 days old)" in fresh
    )
    assert "WARNING" not in fresh
    assert "WARNING: the newest export's snapshot is 3.5 days old" in stale
    assert "last successful run   #1" in stale
    assert "WARNING: no successful run in 4.0 days" in run_stale

    assert run_cli(folder, "status") == 0
    out = capsys.readouterr().out
    assert "Freshness (stale after 3 days" in out
    assert "Steps of the latest command (#1 run, table run_steps):\n  none skipped or failed" in out
