"""`status`: what is in the warehouse, read-only: batches, inferred settings, row counts, freshness,
the last runs and the steps the latest one skipped or failed.

The report is a list of sections, each a function returning its lines (heading first); a new kind
of check (data quality, ...) is a new section function added to SECTIONS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import duckdb

from pipeline_analytics.config import RunSettings
from pipeline_analytics.errors import LockBusy
from pipeline_analytics.ingest.inferred_settings import WAREHOUSE
from pipeline_analytics.lock import lock_path, read_holder
from pipeline_analytics.runs import open_warehouse, step_line
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import table_exists

log = logging.getLogger(__name__)

CORE_TABLES = (
    "deals",
    "deal_stage_events",
    "deal_snapshots",
    "stage_changes",
    "rejected_rows",
    "forecast_runs",
)
SUCCESS = ("succeeded", "partial")  # `runs` statuses of a command that finished its work


@dataclass(frozen=True)
class StatusContext:
    con: duckdb.DuckDBPyConnection
    settings: RunSettings
    now: datetime  # naive UTC, like the warehouse's timestamps


def open_read_only(db_path: Path, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for reading; while a command writes it, say which one."""
    try:
        return open_warehouse(
            partial(duckdb.connect, str(db_path), read_only=True), db_path, wait_seconds
        )
    except LockBusy as exc:
        holder = read_holder(lock_path(db_path))
        if holder is None:
            raise
        raise LockBusy(
            f"warehouse {db_path} is being written by {holder.describe()}; status can read it "
            "once that finishes, or pass --wait SECONDS"
        ) from exc


def describe(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    settings: RunSettings | None = None,
    now: datetime | None = None,
) -> str:
    ctx = StatusContext(
        con, settings or RunSettings(), now or datetime.now(UTC).replace(tzinfo=None)
    )
    lines = [f"Warehouse: {db_path}"]
    for section in SECTIONS:
        lines += ["", *section(ctx)]
    return "\n".join(lines)


def batches_section(ctx: StatusContext) -> list[str]:
    batches = ctx.con.execute(sql_statement("ops/loaded_batches")).fetchall()
    return [
        "Batches loaded (source, object: files, rows loaded, rejected, latest snapshot):",
        *[
            f"  {src}, {obj}: {n} file(s), {loaded:,} rows, {rejected:,} rejected, snapshot {snap}"
            for src, obj, n, loaded, rejected, snap in batches
        ],
    ] + (["  none yet"] if not batches else [])


def inferred_settings_section(ctx: StatusContext) -> list[str]:
    """What ingest inferred because the config left it out, so it can be checked or overridden."""
    if not table_exists(ctx.con, "inferred_settings"):
        return []
    settings = ctx.con.execute(
        "select source, setting, value, basis from inferred_settings order by source, setting"
    ).fetchall()
    if not settings:
        return ["Inferred settings: none (the config gives every setting)"]
    return [
        "Inferred settings (the config left them out; write one in the config to override it):",
        *[
            f"  {'warehouse' if source == WAREHOUSE else source}: {setting} = {value} ({basis})"
            for source, setting, value, basis in settings
        ],
    ]


def row_counts_section(ctx: StatusContext) -> list[str]:
    lines = ["Rows per table:"]
    for table in CORE_TABLES:
        count = ctx.con.execute(f"select count(*) from {table}").fetchall()[0][0]
        lines.append(f"  {table:<20} {count:>12,}")
    return lines


def freshness_section(ctx: StatusContext) -> list[str]:
    """Last successful run and newest export, with warnings when either is too old."""
    limit = ctx.settings.stale_after_days
    last_ok = ctx.con.execute(sql_statement("ops/last_successful_run")).fetchall()
    newest = ctx.con.execute(
        "select max(snapshot_at) from ingest_batches where status = 'loaded'"
    ).fetchall()[0][0]
    latest_run = ctx.con.execute(
        "select run_id, command, status, error from runs order by run_id desc limit 1"
    ).fetchall()
    lines = [f"Freshness (stale after {limit} days, [run] stale_after_days):"]
    warnings = []
    if last_ok:
        run_id, finished = last_ok[0]
        age = _days(ctx.now, finished)
        lines.append(
            f"  last successful run   #{run_id}, finished {finished:%Y-%m-%d %H:%M} UTC "
            f"({age:.1f} days ago)"
        )
        if age > limit:
            warnings.append(f"no successful run in {age:.1f} days")
    else:
        lines.append("  last successful run   none yet")
        warnings.append("no `run` has succeeded yet")
    if newest is not None:
        age = _days(ctx.now, newest)
        lines.append(
            f"  newest export         snapshot {newest:%Y-%m-%d %H:%M} UTC ({age:.1f} days old)"
        )
        if age > limit:
            warnings.append(
                f"the newest export's snapshot is {age:.1f} days old; check that new exports "
                "still arrive in the configured source paths"
            )
    else:
        lines.append("  newest export         none loaded yet")
    if latest_run and latest_run[0][2] not in (*SUCCESS, "running"):
        run_id, command, status, error = latest_run[0]
        warnings.append(f"the latest command, #{run_id} {command}, {status}: {error}")
    for warning in warnings:
        log.warning("stale or failing: %s", warning, extra={"event": "freshness_warning"})
    return lines + [f"  WARNING: {w}" for w in warnings]


def last_runs_section(ctx: StatusContext) -> list[str]:
    runs = ctx.con.execute(sql_statement("ops/last_runs")).fetchall()
    return [
        "Last runs:",
        *[
            f"  #{run_id} {command:<9} {status:<11} started {started:%Y-%m-%d %H:%M:%S}"
            + (f", finished {finished:%H:%M:%S}" if finished else "")
            + (f", {rejected:,} rows rejected" if rejected else "")
            + (f" -- {error}" if error else "")
            for run_id, command, started, finished, status, rejected, error in runs
        ],
    ] + (["  none yet"] if not runs else [])


def last_run_steps_section(ctx: StatusContext) -> list[str]:
    """The steps the latest command skipped (the data cannot support them) or that failed."""
    latest = ctx.con.execute(
        "select run_id, command from runs order by run_id desc limit 1"
    ).fetchall()
    if not latest:
        return ["Steps of the latest command: none yet"]
    run_id, command = latest[0]
    heading = f"Steps of the latest command (#{run_id} {command}, table run_steps):"
    if not table_exists(ctx.con, "run_steps"):  # `status` opens the warehouse without migrating
        return [
            heading,
            "  not recorded by this warehouse's version; the next command records them",
        ]
    steps = ctx.con.execute(
        sql_statement("ops/run_steps_not_succeeded"), {"run_id": run_id}
    ).fetchall()
    return [heading] + (
        [f"  {step_line(step, status, message)}" for step, status, message in steps]
        or ["  none skipped or failed"]
    )


def _days(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 86_400


def data_quality_section(ctx: StatusContext) -> list[str]:
    """The errors and warnings of the last build's mart_data_quality, one line per check."""
    built = ctx.con.execute(
        "select count(*) from information_schema.tables where table_name = 'mart_data_quality'"
    ).fetchall()[0][0]
    if not built:
        return ["Data quality: no build yet; run `pipeline-analytics build`"]
    as_of = ctx.con.execute("select max(as_of) from build_params").fetchall()[0][0]
    findings = ctx.con.execute(sql_statement("ops/data_quality_findings")).fetchall()
    lines = [f"Data quality (build as of {as_of:%Y-%m-%d %H:%M}, table mart_data_quality):"]
    lines += [
        f"  {severity.upper():<7} {check}: {deals:,} deal(s), e.g. {', '.join(ids)} -- {why}"
        for severity, check, deals, ids, why in findings
    ] or ["  no errors or warnings"]
    return lines


SECTIONS: tuple[Callable[[StatusContext], list[str]], ...] = (
    batches_section,
    inferred_settings_section,
    row_counts_section,
    freshness_section,
    data_quality_section,
    last_runs_section,
    last_run_steps_section,
)
