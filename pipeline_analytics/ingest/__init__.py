"""Ingest: load each source's export files into the warehouse, one transaction per file.

A file whose sha256 was already loaded for the source is skipped, so ingest can run again and again
over a folder of exports. Deals files load before history files; either order gives the same events.
"""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import Config, Source
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest import generic, store
from pipeline_analytics.ingest.files import fingerprint, load_file

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    batches: list[store.BatchResult] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(b.rows_loaded for b in self.batches)

    @property
    def rows_rejected(self) -> int:
        return sum(b.rows_rejected for b in self.batches)


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    temp_dir: Path,
    snapshot_at: datetime | None = None,
) -> IngestSummary:
    """Load every new file of every configured source; raise InputError on the first bad file."""
    store.refresh_reference_tables(con, config)
    summary = IngestSummary()
    for source in config.sources:
        for path in expand_paths(source.path, "path", source):
            _ingest_file(con, config, source, path, "deals", temp_dir, snapshot_at, summary)
        if source.history is not None:
            for path in expand_paths(source.history, "history", source):
                _ingest_file(con, config, source, path, "history", temp_dir, snapshot_at, summary)
    return summary


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


def _ingest_file(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source: Source,
    path: Path,
    object_name: str,
    temp_dir: Path,
    snapshot_at: datetime | None,
    summary: IngestSummary,
) -> None:
    started_at = datetime.now(UTC).replace(tzinfo=None)
    fp = fingerprint(path)
    if store.already_loaded(con, source.name, fp.sha256):
        log.info("%s: already loaded (same sha256), skipped", path)
        summary.skipped.append(path)
        return
    log.info("%s: loading %s (%.1f MB)", path, object_name, fp.size / 1e6)
    loaded = load_file(con, path, fp, "raw_export", temp_dir)
    if loaded.rows_read == 0:
        raise InputError(f"{path}: the file has a header but no data rows; export it again")
    label = str(path)
    try:
        if object_name == "deals":
            generic.stage_deals(con, loaded, source, label)
            result = store.write_deals_batch(
                con,
                config=config,
                source=source,
                path=path,
                fp=fp,
                loaded=loaded,
                snapshot_override=snapshot_at,
                started_at=started_at,
            )
        else:
            generic.stage_history(con, loaded, source, label)
            result = store.write_history_batch(
                con, source=source, path=path, fp=fp, loaded=loaded, started_at=started_at
            )
    finally:
        for table in (
            "raw_export",
            "staged_deals",
            "staged_history",
            "incoming_deals",
            "affected_deals",
        ):
            con.execute(f"drop table if exists {table}")
    summary.batches.append(result)
    log.info(
        "%s: %d rows read, %d loaded, %d rejected%s",
        path,
        result.rows_read,
        result.rows_loaded,
        result.rows_rejected,
        " (see table rejected_rows)" if result.rows_rejected else "",
    )
