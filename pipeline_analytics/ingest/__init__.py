"""Ingest: load each source's export files into the warehouse, one transaction per file.

A file whose sha256 was already loaded for the source, read with the same settings, is skipped, so
ingest can run again and again over a folder of exports. When a source's settings that read files
changed since its files were loaded (a fixed column mapping), or `ingest --reload` asks for it, the
source's rows are replaced by a load of all its current files, in one transaction. The generic
adapter reads `path` as deals and `history` as stage history; a CRM adapter recognises each file's
kind from its headers, so `path` can be a whole export folder (files of no known kind in a folder
are skipped with a note; the tool's own files and hidden files are never read). A source's stage
tables load first, then deals, then history; any order gives the same events. Leads files (found
in a CRM folder by their headers, or named by the `leads` key) load last, through `leads`.
"""

from __future__ import annotations

import contextlib
import glob
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import Config, Source, is_folder
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest import (
    batches,
    inference,
    leads,
    reference,
    stage_events,
    temp_tables,
)
from pipeline_analytics.ingest.activities import load_activities_file
from pipeline_analytics.ingest.adapters import source_adapter
from pipeline_analytics.ingest.files import (
    FileFingerprint,
    drop_loaded,
    fingerprint,
    load_rows,
    peek_headers,
)
from pipeline_analytics.ingest.inferred_settings import stamp_batch
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    batches: list[batches.BatchResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    unrecognised: list[Path] = field(default_factory=list)  # files of a folder no adapter reads
    failed: list[InputError] = field(default_factory=list)  # files that could not be loaded
    reloaded: list[str] = field(default_factory=list)  # sources whose rows were replaced

    @property
    def rows_loaded(self) -> int:
        return sum(b.rows_loaded for b in self.batches)

    @property
    def rows_rejected(self) -> int:
        return sum(b.rows_rejected for b in self.batches)

    @property
    def rows_excluded(self) -> int:
        return sum(b.rows_excluded for b in self.batches)


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    temp_dir: Path,
    snapshot_at: datetime | None = None,
    reload: Collection[str] = (),
) -> IngestSummary:
    """Load every new file of every configured source.

    A file that cannot be loaded (InputError) is logged and skipped, so it does not block the
    others (each file is its own transaction); the first such error is raised at the end.
    A source named in `reload`, or whose settings changed since its files were loaded
    (`batches.settings_change`), has its rows replaced by a load of all its current files.
    """
    config = inference.with_reporting_currency(con, config)
    reference.refresh_reference_tables(con, config, temp_dir)
    summary = IngestSummary()
    own = OwnFiles.of(con, config, temp_dir)
    for source in config.sources:
        change = batches.settings_change(con, source)
        if source.name in reload:
            reason: str | None = f"source '{source.name}': --reload"
        elif change is not None:
            reason = f"settings for source '{source.name}' changed since {change.describe()}"
        else:
            reason = None
        if reason is None:
            _ingest_source(con, config, source.name, own, temp_dir, snapshot_at, summary)
        else:
            _reload_source(con, config, source.name, own, temp_dir, snapshot_at, summary, reason)
    if summary.failed:
        first, more = summary.failed[0], len(summary.failed) - 1
        if more:
            raise InputError(f"{first} (and {more} more file(s) failed, see the log above)")
        raise first
    return summary


def _ingest_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    name: str,
    own: OwnFiles,
    temp_dir: Path,
    snapshot_at: datetime | None,
    summary: IngestSummary,
    reload_reason: str | None = None,
) -> None:
    """Load source `name`'s new files; with `reload_reason`, say why all of them load again.

    The stage order (configured, or inferred from every file loaded so far) is applied once the
    source's files are in, then its stage events are rebuilt.
    """
    source = _current(config, name)
    try:
        planned = _plan_files(con, source, own, summary)
        if reload_reason is not None:
            activities = (
                expand_paths(source.activities, "activities", source, own)
                if source.activities is not None
                else []
            )
            log.info("%s: reloading its %d file(s)", reload_reason, len(planned) + len(activities))
        for path, fp, kind in planned:
            # The first deals file may decide the reporting currency (when not configured).
            config = inference.with_reporting_currency(con, config)
            source = _current(config, name)
            try:
                _ingest_file(con, config, source, path, fp, kind, temp_dir, snapshot_at, summary)
            except InputError as exc:
                if reload_reason is not None:
                    raise  # a reload loads every file or none
                _file_failed(exc, summary)
    except BaseException:
        # Files committed before the failing one still get their stage events.
        with contextlib.suppress(Exception):
            stage_events.apply_pending_stage_events(con)
        raise
    config = inference.with_reporting_currency(con, config)
    source = _current(config, name)
    reference.apply_stage_order(con, config)
    stage_events.apply_pending_stage_events(con)
    if source.activities is not None:
        for path in expand_paths(source.activities, "activities", source, own):
            result = load_activities_file(con, source, path, temp_dir)
            if result is None:
                summary.skipped.append(path)
            else:
                summary.batches.append(result)
    if source.leads is not None:
        _ingest_leads(con, source, source.leads, own, temp_dir, summary)


def _current(config: Config, name: str) -> Source:
    """Source `name` as `config` now has it (inference may have filled in its currency)."""
    return next(s for s in config.sources if s.name == name)


def _reload_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    name: str,
    own: OwnFiles,
    temp_dir: Path,
    snapshot_at: datetime | None,
    summary: IngestSummary,
    reason: str,
) -> None:
    """Replace the source's rows with a load of all its current files, in one transaction.

    Any file that fails rolls the whole reload back: the earlier rows stay as they were, and the
    error is reported like a failed file's (the other sources go on).
    """
    batches_before, failed_before = len(summary.batches), len(summary.failed)
    try:
        with transaction(con):
            batches.replace_source(con, name)
            _ingest_source(con, config, name, own, temp_dir, snapshot_at, summary, reason)
            if len(summary.failed) > failed_before:
                raise summary.failed.pop(failed_before)
    except InputError as exc:
        del summary.batches[batches_before:]
        del summary.failed[failed_before:]
        summary.failed.append(InputError(f"{exc}; the reload of source '{name}' was rolled back"))
        log.error(
            "source '%s': reload rolled back, its earlier rows stay as they were: %s",
            name,
            exc,
        )
        return
    summary.reloaded.append(name)


def _ingest_leads(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    pattern: Path,
    own: OwnFiles,
    temp_dir: Path,
    summary: IngestSummary,
) -> None:
    """Load the new files of the source's `leads` key (`pattern`), each as its own batch."""
    for path in expand_paths(pattern, "leads", source, own):
        fp = fingerprint(path, source.encoding)
        if batches.already_loaded(con, source.name, fp.sha256):
            log.info("%s: already loaded (same sha256), skipped", path)
            summary.skipped.append(path)
            continue
        try:
            summary.batches.append(leads.load_leads_file(con, source, path, fp, temp_dir))
        except InputError as exc:
            _file_failed(exc, summary)


def _file_failed(exc: InputError, summary: IngestSummary) -> None:
    log.error("%s; the file was not loaded, the other files go on", exc)
    summary.failed.append(exc)


# Files of these kinds in an export folder are this tool's own (configs, warehouses), not exports.
NOT_EXPORTS = {
    ".toml": "a config file",
    ".duckdb": "a DuckDB warehouse",
    ".wal": "a DuckDB write-ahead log",
    ".lock": "a lock file",
}


@dataclass(frozen=True)
class OwnFiles:
    """This tool's own files and folders, by resolved path, with what each is.

    A source's path that is a folder or a glob may hold them (`path = "."` with the warehouse
    next to the exports); they are never read as exports.
    """

    files: dict[Path, str] = field(default_factory=dict)
    folders: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, config: Config, temp_dir: Path) -> OwnFiles:
        files = {config.path.resolve(): "the config"}
        folders = {
            temp_dir.resolve(): "the warehouse's temp folder",
            config.report.output_dir.resolve(): "the reports folder",
        }
        warehouse = con.execute(
            "select path from duckdb_databases() where database_name = current_database()"
        ).fetchall()[0][0]
        if warehouse:  # None for an in-memory warehouse
            db = Path(warehouse).resolve()
            files |= {
                db: "the warehouse",
                db.with_name(db.name + ".wal"): "the warehouse's write-ahead log",
                db.with_name(db.name + ".lock"): "the warehouse's lock file",
            }
            staging = config.spark.staging_for(db)
            if is_folder(staging):
                folders[Path(staging).resolve()] = "the Spark build's staging folder"
        return cls(files, folders)

    def what(self, path: Path) -> str | None:
        """What `path` is when it is one of ours (or a hidden file); None for an export."""
        resolved = path.resolve()
        if resolved in self.files:
            return self.files[resolved]
        for folder, label in self.folders.items():
            if resolved.is_relative_to(folder):
                return f"in {label}"
        if path.name.startswith("."):
            return "a hidden file"
        # Another config or warehouse of this tool beside the exports (an older copy, a test one).
        return NOT_EXPORTS.get(path.suffix.lower())


def expand_paths(
    pattern: Path, key: str, source: Source, own: OwnFiles | None = None
) -> list[Path]:
    """A file, a folder (every file in it) or a glob; no match is a config error.

    The tool's own files (`own`) and hidden files in a folder or glob are left out, with a note.
    """
    own = own or OwnFiles()
    if pattern.is_dir():
        found = sorted(p for p in pattern.iterdir() if p.is_file())
    elif any(ch in str(pattern) for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())
    else:
        if pattern.is_file() and (what := own.what(pattern)) and not what.startswith("a hidden"):
            raise InputError(
                f"source '{source.name}': {key} = '{pattern}' is {what}, not an export; "
                "point it at the CRM's export file or folder"
            )
        found = [pattern] if pattern.is_file() else []
    left_out = {p: what for p in found if (what := own.what(p)) and p != pattern}
    if left_out:
        log.info(
            "source '%s': %s = '%s': left out %s",
            source.name,
            key,
            pattern,
            ", ".join(f"{p.name} ({what})" for p, what in left_out.items()),
        )
    paths = [p for p in found if p not in left_out]
    if not paths:
        raise InputError(
            f"source '{source.name}': {key} = '{pattern}' matches no file"
            + (" besides this tool's own and hidden ones" if left_out else "")
            + "; check the path in the config (relative paths are read from the config's folder)"
        )
    return paths


# Load order within a source: the CRM's stage table, then deals, then history of any form, then
# leads; a CRM's name tables (users, accounts) any time, since names are applied after each file.
KIND_ORDER = {
    "stages": 0,
    "users": 0,
    "accounts": 0,
    "deals": 1,
    "history": 2,
    "field_history": 2,
    leads.OBJECT: 3,
}


def _plan_files(
    con: duckdb.DuckDBPyConnection, source: Source, own: OwnFiles, summary: IngestSummary
) -> list[tuple[Path, FileFingerprint, str]]:
    """The source's new files with their kind, in load order; loaded ones go to `skipped`."""
    adapter = source_adapter(source.adapter)
    keys = [("path", source.path, "deals")]
    if source.history is not None:
        keys.append(("history", source.history, "history"))
    planned = []
    for key, pattern, expected in keys:
        named_file = pattern.is_file()
        for path in expand_paths(pattern, key, source, own):
            fp = fingerprint(path, source.encoding)
            if batches.already_loaded(con, source.name, fp.sha256) or any(
                fp.sha256 == other.sha256 for _, other, _ in planned
            ):
                log.info("%s: already loaded (same sha256), skipped", path)
                summary.skipped.append(path)
                continue
            if not adapter.reads_headers(key, named_file):
                planned.append((path, fp, expected))
                continue
            try:
                headers = peek_headers(path, fp, source.sheet)
            except InputError as exc:
                _file_failed(exc, summary)
                continue
            kind = adapter.recognise(headers, source) or (
                leads.OBJECT if leads.is_leads_export(headers, source) else None
            )
            if kind is None and named_file:
                raise adapter.unrecognised(headers, source, expected, str(path))
            if kind is None:
                log.warning("%s: %s", path, adapter.skip_note(headers, source))
                summary.unrecognised.append(path)
                continue
            planned.append((path, fp, kind))
    return sorted(planned, key=lambda item: (KIND_ORDER[item[2]], str(item[0])))


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    kind: str,
    temp_dir: Path,
    snapshot_at: datetime | None,
    summary: IngestSummary,
) -> None:
    if kind == leads.OBJECT:  # a leads file of the export folder: its own loader and table
        summary.batches.append(leads.load_leads_file(con, source, path, fp, temp_dir, source.sheet))
        return
    started_at = datetime.now(UTC).replace(tzinfo=None)
    log.info("%s: loading %s (%.1f MB)", path, kind, fp.size / 1e6)
    label = str(path)
    try:
        loaded = load_rows(con, path, fp, "raw_export", temp_dir, source.sheet)
        adapter = source_adapter(source.adapter)
        cols = adapter.columns(con, loaded, source, kind, label)
        if kind == "deals" and config.pipeline.currency is None:
            # The first deals file decides the reporting currency when the config names none.
            code = inference.decide_currency(
                con, loaded.table, cols.get("amount"), cols.get("currency")
            )
            config = inference.with_currency(config, code)
            source = _current(config, source.name)
        loaded = adapter.stage(con, loaded, source, kind, label)
        if kind == "deals":
            adapter.record_outcomes(con, source, cols)
        result = batches.write_batch(
            con,
            pipeline=config.pipeline,
            config_path=config.path,
            source=source,
            path=path,
            fp=fp,
            loaded=loaded,
            kind=kind,
            snapshot_override=snapshot_at if kind == "deals" else None,
            started_at=started_at,
        )
    finally:
        drop_loaded(con, "raw_export")
        for table in (*temp_tables.STAGED_TABLES, "incoming_deals", "affected_deals"):
            con.execute(f"drop table if exists {table}")
    stamp_batch(con, source.name, result.batch_id)
    summary.batches.append(result)
    batches.log_loaded(path, result)
