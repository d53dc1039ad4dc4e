"""Ingest: load each source's export files into the warehouse, one transaction per file.

A file whose sha256 was already loaded for the source is skipped, so ingest can run again and again
over a folder of exports. The generic adapter reads `path` as deals and `history` as stage history;
a CRM adapter recognises each file's kind from its headers, so `path` can be a whole export folder
(files of no known kind in a folder are skipped with a note). A source's stage tables load first,
then deals, then history; any order gives the same events.
"""

from __future__ import annotations

import contextlib
import glob
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import Config, Source
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest import generic, inference, store
from pipeline_analytics.ingest.activities import load_activities_file
from pipeline_analytics.ingest.adapters import crm_adapter
from pipeline_analytics.ingest.files import (
    FileFingerprint,
    drop_loaded,
    fingerprint,
    load_file,
    peek_headers,
)

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    batches: list[store.BatchResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    unrecognised: list[Path] = field(default_factory=list)  # files of a folder no adapter reads
    failed: list[InputError] = field(default_factory=list)  # files that could not be loaded

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
) -> IngestSummary:
    """Load every new file of every configured source.

    A file that cannot be loaded (InputError) is logged and skipped, so it does not block the
    others (each file is its own transaction); the first such error is raised at the end.
    """
    config = inference.with_reporting_currency(con, config)
    store.refresh_reference_tables(con, config, temp_dir)
    summary = IngestSummary()
    for configured in config.sources:
        try:
            for path, fp, kind in _plan_files(con, configured, summary):
                # The first deals file may decide the reporting currency (when not configured).
                config = inference.with_reporting_currency(con, config)
                source = next(s for s in config.sources if s.name == configured.name)
                try:
                    _ingest_file(
                        con, config, source, path, fp, kind, temp_dir, snapshot_at, summary
                    )
                except InputError as exc:
                    _file_failed(exc, summary)
        except BaseException:
            # Files committed before the failing one still get their stage events.
            with contextlib.suppress(Exception):
                store.apply_pending_stage_events(con)
            raise
        config = inference.with_reporting_currency(con, config)
        source = next(s for s in config.sources if s.name == configured.name)
        # Stage order (configured or inferred from all files loaded so far), then stage events.
        store.apply_stage_order(con, config)
        store.apply_pending_stage_events(con)
        if source.activities is not None:
            for path in expand_paths(source.activities, "activities", source):
                result = load_activities_file(con, source, path, temp_dir)
                if result is None:
                    summary.skipped.append(path)
                else:
                    summary.batches.append(result)
    if summary.failed:
        first, more = summary.failed[0], len(summary.failed) - 1
        if more:
            raise InputError(f"{first} (and {more} more file(s) failed, see the log above)")
        raise first
    return summary


def _file_failed(exc: InputError, summary: IngestSummary) -> None:
    log.error("%s; the file was not loaded, the other files go on", exc)
    summary.failed.append(exc)


def expand_paths(pattern: Path, key: str, source: Source) -> list[Path]:
    """A file, a folder (every file in it) or a glob; no match is a config error."""
    if pattern.is_dir():
        paths = sorted(p for p in pattern.iterdir() if p.is_file() and not p.name.startswith("."))
    elif any(ch in str(pattern) for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())
    else:
        paths = [pattern] if pattern.is_file() else []
    if not paths:
        raise InputError(
            f"source '{source.name}': {key} = '{pattern}' matches no file; "
            "check the path in the config (relative paths are read from the config's folder)"
        )
    return paths


# Load order within a source: the CRM's stage table, then deals, then history of any form.
KIND_ORDER = {"stages": 0, "deals": 1, "history": 2, "field_history": 2}


def _plan_files(
    con: duckdb.DuckDBPyConnection, source: Source, summary: IngestSummary
) -> list[tuple[Path, FileFingerprint, str]]:
    """The source's new files with their kind, in load order; loaded ones go to `skipped`."""
    adapter = crm_adapter(source.adapter) if source.adapter != "generic" else None
    keys = [("path", source.path, "deals")]
    if source.history is not None:
        keys.append(("history", source.history, "history"))
    planned = []
    for key, pattern, expected in keys:
        named_file = pattern.is_file()
        for path in expand_paths(pattern, key, source):
            fp = fingerprint(path, source.encoding)
            if store.already_loaded(con, source.name, fp.sha256) or any(
                fp.sha256 == other.sha256 for _, other, _ in planned
            ):
                log.info("%s: already loaded (same sha256), skipped", path)
                summary.skipped.append(path)
                continue
            if adapter is None:
                planned.append((path, fp, expected))
                continue
            try:
                headers = peek_headers(path, fp, source.sheet)
            except InputError as exc:
                _file_failed(exc, summary)
                continue
            kind = adapter.recognise(headers, source)
            if kind is None and named_file:
                raise adapter.unrecognised(headers, source, expected, str(path))
            if kind is None:
                log.info("%s: not a %s export this adapter reads, skipped", path, source.adapter)
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
    started_at = datetime.now(UTC).replace(tzinfo=None)
    log.info("%s: loading %s (%.1f MB)", path, kind, fp.size / 1e6)
    label = str(path)
    try:
        loaded = load_file(con, path, fp, "raw_export", temp_dir, source.sheet)
        if loaded.rows_read == 0:
            raise InputError(f"{path}: the file has a header but no data rows; export it again")
        if source.adapter == "generic":
            if kind == "deals":
                config, source = generic.stage_generic_deals(con, loaded, config, source, label)
            else:
                generic.stage_generic_history(con, loaded, source, label)
        else:
            adapter = crm_adapter(source.adapter)
            if kind == "deals":
                cols = adapter.columns(loaded, source, kind)
                config = inference.decide_currency(
                    con, config, loaded.table, cols.get("amount"), cols.get("currency")
                )
                source = next(s for s in config.sources if s.name == source.name)
            loaded = adapter.stage(con, loaded, source, kind, label)
            if kind == "deals":
                inference.record_crm_outcomes(
                    con, source, inference.crm_status_columns(source.adapter, cols)
                )
        result = store.write_batch(
            con,
            config=config,
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
        for table in (*store.STAGED_TABLES, "incoming_deals", "affected_deals"):
            con.execute(f"drop table if exists {table}")
    inference.stamp_batch(con, source.name, result.batch_id)
    summary.batches.append(result)
    log.info(
        "%s: %d rows read, %d loaded, %d rejected%s%s",
        path,
        result.rows_read,
        result.rows_loaded,
        result.rows_rejected,
        f", {result.rows_excluded} excluded (deleted in the CRM or report totals)"
        if result.rows_excluded
        else "",
        " (see table rejected_rows)" if result.rows_rejected else "",
    )
