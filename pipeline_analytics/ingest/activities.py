"""Activities files: one row per call, email, meeting... logged against a deal.

A source's `activities` key names the file(s); `[sources.activity_columns]` maps the canonical
columns deal_id, activity_type, occurred_at and owner to headers (deal_id and occurred_at are
required). Each file loads like a deals or history file: read by `files`, one transaction per file
through the batch helpers of `batches`, rejected rows kept with their line number, a file whose
sha256 was already loaded skipped. An activity repeated across files (same deal, type, time and
owner: overlapping exports) is stored once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import ACTIVITY_COLUMNS, REQUIRED_ACTIVITY_COLUMNS, Source
from pipeline_analytics.ingest import batches
from pipeline_analytics.ingest.columns import (
    ExportKind,
    HeaderIndex,
    missing_columns_error,
    resolve_kind,
)
from pipeline_analytics.ingest.files import (
    FileFingerprint,
    LoadedFile,
    create_reading_view,
    drop_loaded,
    fingerprint,
    load_rows,
)
from pipeline_analytics.ingest.locale import timestamp_sql
from pipeline_analytics.ingest.staging import (
    check_layers,
    date_check,
    file_locale,
    text_of,
    too_long_check,
)
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

OBJECT = "activities"
ACTIVITIES_KIND = ExportKind(
    name=OBJECT,
    description="activities export",
    required=REQUIRED_ACTIVITY_COLUMNS,
    aliases={c: (c,) for c in ACTIVITY_COLUMNS},
)
RAW_TABLE = "raw_activities"
STAGED_TABLE = "staged_activities"


def load_activities_file(
    con: duckdb.DuckDBPyConnection, source: Source, path: Path, temp_dir: Path
) -> batches.BatchResult | None:
    """Load one activities file as one batch; None when the same file was loaded before."""
    started_at = datetime.now(UTC).replace(tzinfo=None)
    fp = fingerprint(path)
    if batches.already_loaded(con, source.name, fp.sha256):
        log.info("%s: already loaded (same sha256), skipped", path)
        return None
    log.info("%s: loading activities (%.1f MB)", path, fp.size / 1e6)
    try:
        loaded = load_rows(con, path, fp, RAW_TABLE, temp_dir)
        stage_activities(con, loaded, source, str(path))
        result = write_activities_batch(
            con, source=source, path=path, fp=fp, loaded=loaded, started_at=started_at
        )
    finally:
        drop_loaded(con, RAW_TABLE)
        con.execute(f"drop table if exists {STAGED_TABLE}")
    batches.log_loaded(path, result)
    return result


def stage_activities(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_activities`: canonical columns plus a reject reason per row."""
    index = HeaderIndex(loaded.headers)
    found, missing = resolve_kind(index, ACTIVITIES_KIND, source.activity_columns)
    if missing:
        raise missing_columns_error(
            file_label,
            index,
            ACTIVITIES_KIND,
            missing,
            source.activity_columns,
            "sources.activity_columns",
        )
    text = {c: text_of(found[c]) if c in found else "null::varchar" for c in ACTIVITY_COLUMNS}
    locale = file_locale(con, loaded, source, {}, {"occurred_at": text["occurred_at"]}, file_label)
    checks, failures = check_layers(
        [
            ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
            ("deal_id", too_long_check("deal_id")),
            (
                "occurred_at",
                date_check("occurred_at", "occurred_value", required=True, locale=locale),
            ),
            ("activity_type", too_long_check("activity_type")),
            ("owner", too_long_check("owner")),
        ]
    )
    typed = {"occurred_value": timestamp_sql("occurred_at", locale)}
    create_reading_view(con, "activity_reading", loaded.table, text, typed, checks, failures)
    con.execute(sql_statement("ingest/activities_staged"))
    con.execute("drop view activity_reading")


def write_activities_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    started_at: datetime,
) -> batches.BatchResult:
    """Write `staged_activities` as one batch: all good rows land, or (on error) nothing does."""
    batches.reject_future_events(con, STAGED_TABLE, "occurred_at", started_at)
    rejected, snapshot_at = con.execute(sql_statement("ingest/activities_batch_counts")).fetchall()[
        0
    ]

    def insert_new_activities(batch_id: int) -> None:
        con.execute(sql_statement("ingest/activities_insert"), {"source": source.name})

    return batches.write_file_batch(
        con,
        source=source,
        kind=OBJECT,
        path=path,
        fp=fp,
        loaded=loaded,
        staged_table=STAGED_TABLE,
        rejected=rejected,
        excluded=0,
        snapshot_at=snapshot_at,
        started_at=started_at,
        write_rows=insert_new_activities,
        mapping="sources.activity_columns",
    )
