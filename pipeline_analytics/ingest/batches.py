"""Batches and rejects: one file of a source as one batch, written in one transaction.

A batch records the file (sha256, the settings that read it), its rejected rows with their line
and raw record, and its row counts; the warehouse rows it writes come from `deals` (deals,
snapshots, amount and close-date edits), `stage_events` (stage changes) and `reference` (the
CRM's stage table and names). If anything fails, the transaction rolls back and the warehouse is
exactly as it was. A reload deletes every row a source's files put in the warehouse
(`SOURCE_ROWS`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import PipelineSettings, Source
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest import deals, reference, stage_events, temp_tables
from pipeline_analytics.ingest.files import FileFingerprint, LoadedFile, drop_loaded
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)

LOADED = "loaded"
# The temp table whose rows are the file's rows, per kind of file.
PRIMARY_TABLE = {
    "deals": temp_tables.STAGED_DEALS,
    "history": temp_tables.STAGED_HISTORY,
    "field_history": temp_tables.STAGED_HISTORY,
    "stages": temp_tables.STAGED_STAGES,
    "users": temp_tables.STAGED_NAMES,
    "accounts": temp_tables.STAGED_NAMES,
}
# A file's latest event is when the export was taken; never an expected close date.
LATEST_EVENT = {
    temp_tables.STAGED_DEALS: "greatest(created_at, closed_at, stage_changed_at, updated_at)",
    temp_tables.STAGED_HISTORY: "changed_at",
    temp_tables.STAGED_STAGES: "null::timestamp",
    temp_tables.STAGED_NAMES: "null::timestamp",
}
# Longest raw value kept in rejected_rows.raw_record (a 10 MB cell is cut, not stored whole).
RAW_VALUE_LIMIT = 2000


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    file_path: Path
    object: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    snapshot_at: datetime | None
    rows_excluded: int = 0


# The configured settings of a source that decide how its files are read (Source attributes):
# a batch records them, and when they change the source's files are loaded again. Configured
# values only, never inferred ones: an inference is redone on every load anyway.
READ_SETTINGS = (
    "adapter",
    "columns",
    "history_columns",
    "status",
    "date_format",
    "decimal",
    "date_order",
    "encoding",
    "sheet",
    "currency",
    "activity_columns",
    "lead_columns",
)
# Every table holding rows a source's files put there, and how its rows name the source: by its
# `source` column, or by `batch_id` (one of the source's batches). A reload deletes them all, so a
# table added later that holds a source's rows goes here. ingest_batches comes last: the
# `batch_id` tables find the source's batches through it.
SOURCE_ROWS = (
    ("deals", "source"),
    ("deal_snapshots", "source"),
    ("stage_changes", "source"),
    ("deal_changes", "source"),
    ("deal_stage_events", "source"),
    ("pending_stage_events", "source"),
    ("source_stages", "source"),
    ("activities", "source"),
    ("crm_names", "source"),
    ("inferred_settings", "source"),
    ("leads", "source"),
    ("rejected_rows", "batch_id"),
    ("flagged_values", "batch_id"),
    ("ingest_batches", "source"),
)


def log_loaded(path: Path, result: BatchResult, rows: str = "rows") -> None:
    """The one INFO line every loaded file ends with: rows read, loaded, rejected, excluded."""
    log.info(
        "%s: %d %s read, %d loaded, %d rejected%s%s",
        path,
        result.rows_read,
        rows,
        result.rows_loaded,
        result.rows_rejected,
        f", {result.rows_excluded} excluded (deleted in the CRM or report totals)"
        if result.rows_excluded
        else "",
        " (see `pipeline-analytics rejects`)" if result.rows_rejected else "",
    )


def already_loaded(con: duckdb.DuckDBPyConnection, source: str, sha256: str) -> bool:
    rows = con.execute(
        "select count(*) from ingest_batches where source = ? and file_sha256 = ? and status = ?",
        [source, sha256, LOADED],
    ).fetchall()
    return rows[0][0] > 0


def read_settings(source: Source) -> str:
    """The source's READ_SETTINGS as canonical JSON (sorted keys): equal settings, equal text."""
    return json.dumps(
        {
            name: None if name in source.inferred else _plain(getattr(source, name))
            for name in READ_SETTINGS
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def settings_fingerprint(settings_json: str) -> str:
    return hashlib.sha256(settings_json.encode("utf-8")).hexdigest()


def _plain(value: object) -> object:
    """A setting as JSON data: dataclasses as objects, tuples as lists, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class SettingsChange:
    """The newest batch of a source loaded with other settings, and the settings that differ."""

    batch_id: int
    changed: tuple[str, ...]  # dotted names, e.g. `columns.deal_id`

    def describe(self) -> str:
        return f"batch {self.batch_id} ({', '.join(self.changed) or 'settings'})"


def settings_change(con: duckdb.DuckDBPyConnection, source: Source) -> SettingsChange | None:
    """How the source's settings differ from those its loaded batches were read with, if they do.

    Batches loaded before settings were recorded (NULL) are unknown: said once, then taken as read
    with the current settings (no reload is forced; `ingest --reload` does one).
    """
    current = read_settings(source)
    fingerprint_now = settings_fingerprint(current)
    rows = con.execute(
        sql_statement("ingest/batch_settings"), {"source": source.name, "loaded": LOADED}
    ).fetchall()
    unknown = [batch_id for batch_id, fingerprint_then, _ in rows if fingerprint_then is None]
    if unknown:
        log.info(
            "source '%s': %d batch(es) (%d to %d) were loaded before the settings that read a "
            "file were recorded; they are taken as read with the current settings (if the config "
            "changed since, run `pipeline-analytics ingest --reload --source %s`)",
            source.name,
            len(unknown),
            unknown[0],
            unknown[-1],
            source.name,
        )
        con.execute(
            sql_statement("ingest/batch_settings_backfill"),
            {
                "source": source.name,
                "settings_fingerprint": fingerprint_now,
                "settings_json": current,
            },
        )
    differing = [
        (batch_id, then)
        for batch_id, fingerprint_then, then in rows
        if fingerprint_then is not None and fingerprint_then != fingerprint_now
    ]
    if not differing:
        return None
    batch_id, then = differing[-1]
    return SettingsChange(
        batch_id, _changed_settings(json.loads(then or "{}"), json.loads(current))
    )


def _changed_settings(before: dict, after: dict, prefix: str = "") -> tuple[str, ...]:
    """Dotted names of the settings whose values differ (a key of a mapping is one setting)."""
    changed: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_settings(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(f"{prefix}{key}")
    return tuple(changed)


def replace_source(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Delete every row the source's files put in the warehouse (SOURCE_ROWS), for a reload.

    Run it inside the reload's transaction: rolled back with it, the rows stay.
    """
    for table, key in SOURCE_ROWS:
        where = (
            "source = ?"
            if key == "source"
            else "batch_id in (select batch_id from ingest_batches where source = ?)"
        )
        deleted = con.execute(f"delete from {table} where {where}", [source]).fetchall()[0][0]
        log.debug("source '%s': reload deleted %d row(s) of %s", source, deleted, table)


def write_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    pipeline: PipelineSettings,
    config_path: Path,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    kind: str,
    snapshot_override: datetime | None,
    started_at: datetime,
) -> BatchResult:
    """Load the staged tables of one file as one batch: all good rows land, or nothing does.

    `pipeline` gives the configured stage order and the reporting currency the deals are written
    with; `config_path` is named in warnings about the configured stages.
    """
    primary = PRIMARY_TABLE[kind]
    present = {t for t in temp_tables.STAGED_TABLES if temp_tables.exists(con, t)}
    moment = snapshot_override or started_at
    if temp_tables.STAGED_DEALS in present:
        deals.reject_duplicate_ids(con)
        deals.drop_future_deal_events(con, moment)
    if temp_tables.STAGED_HISTORY in present:
        # A deals file's derived history (HubSpot's stage dates) has no lines: its rows just drop.
        reject_future_events(con, temp_tables.STAGED_HISTORY, "changed_at", moment)
    temp_tables.show_batch_rows(con, primary, LATEST_EVENT[primary])
    try:
        excluded, rejected, latest_event = con.execute(
            sql_statement("ingest/batch_row_counts")
        ).fetchall()[0]
        snapshot_at = snapshot_override or latest_event
        if snapshot_at is None and primary == temp_tables.STAGED_DEALS:
            snapshot_at = file_modified_at(path)
        excluded += len(loaded.excluded_lines)
        rejected += len(loaded.structural_rejects)
        loaded_rows = loaded.rows_read - rejected - excluded
        if loaded_rows == 0 and rejected:
            raise InputError(_all_rejected_message(con, path, loaded))
        # The raw text is needed only for the rejected lines: those are kept, and the file's
        # all-text table goes before the writing steps, whose sorts then have its memory.
        _keep_rejected_records(con, loaded)
        drop_loaded(con, loaded.table)
        # Row order in warehouse tables means nothing; not keeping it makes big inserts cheaper.
        con.execute("set preserve_insertion_order = false")
        try:
            with transaction(con):
                batch_id = _start_batch(con, source, kind, path, fp, snapshot_at, started_at)
                _insert_rejects(con, batch_id, loaded)
                _write_staged_rows(
                    con, present, kind, source.name, pipeline, config_path, snapshot_at, batch_id
                )
                stage_events.queue_affected_deals(con, source.name)
                _finish_batch(con, batch_id, loaded.rows_read, loaded_rows, rejected, excluded)
        finally:
            con.execute("reset preserve_insertion_order")
    finally:
        temp_tables.drop_batch_views(con)
    if temp_tables.STAGED_DEALS in present:
        deals.warn_future_events(con, path, moment)
    return BatchResult(
        batch_id, path, kind, loaded.rows_read, loaded_rows, rejected, snapshot_at, excluded
    )


def _write_staged_rows(
    con: duckdb.DuckDBPyConnection,
    present: set[str],
    kind: str,
    source: str,
    pipeline: PipelineSettings,
    config_path: Path,
    snapshot_at: datetime | None,
    batch_id: int,
) -> None:
    """The warehouse rows of the staged tables `present`; the deals they touched go to
    `affected_deals`."""
    temp_tables.create_affected_deals(con)
    if temp_tables.STAGED_STAGES in present:
        reference.write_source_stages(con, source, batch_id, from_stage_table=kind == "stages")
    if temp_tables.STAGED_NAMES in present:
        reference.write_crm_names(con, source, batch_id, kind)
    if temp_tables.STAGED_DEALS in present:
        deals.write_deals(
            con,
            source,
            stages=pipeline.stages,
            base_currency=pipeline.currency,
            config_path=config_path,
            snapshot_at=snapshot_at,
            batch_id=batch_id,
        )
        deals.write_future_flags(con, batch_id)
    if temp_tables.STAGED_HISTORY in present:
        stage_events.write_stage_changes(con, source, batch_id)
    if temp_tables.STAGED_CHANGES in present:
        deals.write_deal_changes(con, source, batch_id)
    if present & {temp_tables.STAGED_DEALS, temp_tables.STAGED_NAMES}:
        reference.show_crm_names(con, source)


def file_modified_at(path: Path) -> datetime:
    """When a deals file with no event dates at all (a win/loss extract) was taken: its mtime.

    Without it the batch would have no snapshot_at, and nothing could say as of when its deals
    stood where they stand. Naive UTC, like every timestamp in the warehouse.
    """
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    log.warning(
        "%s: no created, closed, stage-change or modified dates in the file; its snapshot time "
        "is the file's modification time, %s UTC (pass --snapshot-at to set it)",
        path,
        f"{modified:%Y-%m-%d %H:%M:%S}",
    )
    return modified


def reject_future_events(
    con: duckdb.DuckDBPyConnection, table: str, column: str, moment: datetime
) -> None:
    """Reject the rows of staged table `table` whose event time `column` is after `moment` plus
    the tolerance (`deals.FUTURE_TOLERANCE`).

    For a history or activities row the time is the fact itself: without it nothing is left.
    The table and column are identifiers of the caller's staged table; the values are bound.
    """
    con.execute(
        f"""
        update {table}
        set reject_reason = '{column}: ' || {column}::varchar
                || ' is after the file was loaded (' || strftime($moment, '%Y-%m-%d %H:%M')
                || ' UTC, plus a day for time zones); fix the date in the CRM',
            reject_column = '{column}'
        where {column} > $limit and reject_reason is null and exclude_reason is null
        """,
        {"moment": moment, "limit": moment + deals.FUTURE_TOLERANCE},
    )


def _all_rejected_message(con: duckdb.DuckDBPyConnection, path: Path, loaded: LoadedFile) -> str:
    first = con.execute(sql_statement("ingest/batch_first_reject")).fetchall()
    candidates = [(line, reason) for line, reason, _ in loaded.structural_rejects[:1]] + first
    line, reason = min(candidates)
    return (
        f"{path}: none of its {loaded.rows_read} rows can be loaded (line {line}: {reason}); "
        "check that the file is the export the config describes, with one record per line"
    )


def write_file_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    source: Source,
    kind: str,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    staged_table: str,
    rejected: int,
    excluded: int,
    snapshot_at: datetime | None,
    started_at: datetime,
    write_rows: Callable[[int], None],
    mapping: str,
) -> BatchResult:
    """One file of a table beside the deals (activities, leads) as one batch, in one transaction.

    `rejected` and `excluded` count the staged rows; the file's structural rejects and excluded
    lines are added here. `write_rows(batch_id)` inserts the good rows; `mapping` names the config
    table to fix when no row of the file can be loaded.
    """
    rejected += len(loaded.structural_rejects)
    excluded += len(loaded.excluded_lines)  # report footers and the like: not data
    loaded_rows = loaded.rows_read - rejected - excluded
    temp_tables.show_batch_rows(con, staged_table, "null::timestamp")
    try:
        if loaded_rows == 0:
            first = con.execute(sql_statement("ingest/batch_first_reject")).fetchall()
            detail = f" (first: line {first[0][0]}: {first[0][1]})" if first else ""
            raise InputError(
                f"{path}: every row of the {kind} file was rejected{detail}; "
                f"fix the file or the [{mapping}] mapping in the config"
            )
        with transaction(con):
            batch_id = _start_batch(con, source, kind, path, fp, snapshot_at, started_at)
            _write_rejects(con, batch_id, loaded)
            write_rows(batch_id)
            _finish_batch(con, batch_id, loaded.rows_read, loaded_rows, rejected, excluded)
    finally:
        temp_tables.drop_batch_views(con)
    return BatchResult(
        batch_id, path, kind, loaded.rows_read, loaded_rows, rejected, snapshot_at, excluded
    )


def _start_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    kind: str,
    path: Path,
    fp: FileFingerprint,
    snapshot_at: datetime | None,
    started_at: datetime,
) -> int:
    batch_id = int(con.execute("select nextval('batch_id_seq')").fetchall()[0][0])
    settings = read_settings(source)
    con.execute(
        sql_statement("ingest/batch_start"),
        {
            "batch_id": batch_id,
            "source": source.name,
            "adapter": source.adapter,
            "object": kind,
            "file_path": str(path),
            "file_sha256": fp.sha256,
            "snapshot_at": snapshot_at,
            "started_at": started_at,
            "settings_fingerprint": settings_fingerprint(settings),
            "settings_json": settings,
        },
    )
    return batch_id


def _write_rejects(con: duckdb.DuckDBPyConnection, batch_id: int, loaded: LoadedFile) -> None:
    """Rejected rows (view `batch_rows`) with their line, reason and the raw record as JSON.

    The raw record is a struct of the file's headers (quoted identifiers) with long values cut,
    built only for the rejected lines.
    """
    _show_rejected_records(con, loaded)
    _insert_rejects(con, batch_id, loaded)


def _show_rejected_records(con: duckdb.DuckDBPyConnection, loaded: LoadedFile) -> None:
    """Temp table `rejected_lines` (view `batch_rows`'s rejected rows) and view `raw_records`,
    their raw records as JSON read from the loaded file."""
    con.execute(sql_statement("ingest/rejected_lines_create"))
    raw_struct = ", ".join(
        f"'{h.replace(chr(39), chr(39) * 2)}': "
        f'left("{h.replace(chr(34), chr(34) * 2)}", {RAW_VALUE_LIMIT})'
        for h in loaded.headers
    )
    temp_tables.show_raw_records(con, loaded.table, f"to_json({{{raw_struct}}})::varchar")


def _keep_rejected_records(con: duckdb.DuckDBPyConnection, loaded: LoadedFile) -> None:
    """`rejected_lines` and `raw_records` as `_show_rejected_records` makes them, with the raw
    records copied out of the loaded file, which can then be dropped."""
    _show_rejected_records(con, loaded)
    temp_tables.keep_raw_records(con)


def _insert_rejects(con: duckdb.DuckDBPyConnection, batch_id: int, loaded: LoadedFile) -> None:
    """The rejected rows of `rejected_lines` and `raw_records`, and the file's structural rejects,
    into rejected_rows for batch `batch_id`."""
    con.execute(sql_statement("ingest/rejected_rows_insert"), {"batch_id": batch_id})
    if loaded.structural_rejects:
        con.execute(
            sql_statement("ingest/rejected_rows_structural"),
            {
                "batch_id": batch_id,
                "lines": [line for line, _, _ in loaded.structural_rejects],
                "reasons": [reason for _, reason, _ in loaded.structural_rejects],
                "raw_records": [raw[:RAW_VALUE_LIMIT] for _, _, raw in loaded.structural_rejects],
            },
        )


def _finish_batch(
    con: duckdb.DuckDBPyConnection,
    batch_id: int,
    rows_read: int,
    rows_loaded: int,
    rejected: int,
    excluded: int,
) -> None:
    con.execute(
        sql_statement("ingest/batch_finish"),
        {
            "rows_read": rows_read,
            "rows_loaded": rows_loaded,
            "rows_rejected": rejected,
            "rows_excluded": excluded,
            "loaded": LOADED,
            "batch_id": batch_id,
        },
    )
