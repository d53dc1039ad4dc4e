"""Backup and restore: every table of the warehouse as Parquet, with a manifest to rebuild it.

`export-warehouse DIR` writes `<table>.parquet` for each table, read in one transaction so all files
show the same moment, plus `manifest.json`: each table's CREATE statement and row count, the views,
and where each sequence (batch and run ids) stands. The folder appears under its final name only
when complete. `import-warehouse DIR` recreates exactly those tables, views and sequences in one
transaction and checks every row count against the manifest; the Parquet files are plain, so any
tool can read a backup without this program.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline_analytics import __version__
from pipeline_analytics.errors import InputError
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# The warehouse's own catalog entries, not those of temp tables or DuckDB's system schemas.
_OWN_OBJECTS = "database_name = current_database() and schema_name = 'main' and not temporary"


def export_warehouse(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    """Write every table and the manifest to out_dir, which must be new or empty."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(
            f"{out_dir}: exists and is not an empty folder; give export-warehouse a new folder "
            "so no earlier backup is overwritten"
        )
    staging = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        con.execute("begin transaction")
        try:
            manifest = _write_tables(con, staging)
        finally:
            con.execute("rollback")  # read only: nothing to commit
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(staging, out_dir)  # an existing empty folder is replaced whole
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info(
        "exported %d tables (%d rows) to %s",
        len(manifest["tables"]),
        sum(t["rows"] for t in manifest["tables"].values()),
        out_dir,
        extra={"event": "warehouse_exported", "path": str(out_dir)},
    )


def _write_tables(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for name, create_sql in con.execute(
        f"select table_name, sql from duckdb_tables() where {_OWN_OBJECTS} order by table_name"
    ).fetchall():
        file_name = f"{name}.parquet"
        con.execute(f"copy {_quote(name)} to '{_literal(folder / file_name)}' (format parquet)")
        rows = con.execute(f"select count(*) from {_quote(name)}").fetchall()[0][0]
        tables[name] = {"file": file_name, "rows": rows, "create": create_sql}
    views = dict(
        con.execute(
            f"select view_name, sql from duckdb_views() where {_OWN_OBJECTS} and not internal "
            "order by view_name"
        ).fetchall()
    )
    sequences = {
        name: {"next": start if last is None else last + increment, "increment": increment}
        for name, start, increment, last in con.execute(
            "select sequence_name, start_value, increment_by, last_value from duckdb_sequences() "
            f"where {_OWN_OBJECTS} order by sequence_name"
        ).fetchall()
    }
    return {
        "format": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pipeline_analytics_version": __version__,
        "tables": tables,
        "views": views,
        "sequences": sequences,
    }


def import_warehouse(
    con: duckdb.DuckDBPyConnection, in_dir: Path, manifest: dict[str, Any], *, replace: bool
) -> None:
    """Recreate the tables, views and sequences of a backup (see read_manifest) in one transaction.

    A warehouse that already holds rows is only overwritten with replace=True, and then entirely:
    what is not in the backup is dropped.
    """
    if not replace and (filled := _tables_with_rows(con)):
        raise InputError(
            f"the target warehouse already holds data ({', '.join(filled[:3])}"
            f"{', ...' if len(filled) > 3 else ''}); import into a new --db path, or pass "
            "--replace to overwrite it with the backup"
        )
    with transaction(con):
        _drop_everything(con)
        for name, seq in manifest["sequences"].items():
            con.execute(
                f"create sequence {_quote(name)} increment by {int(seq['increment'])} "
                f"start with {int(seq['next'])}"
            )
        for name, table in manifest["tables"].items():
            con.execute(table["create"])
            path = in_dir / table["file"]
            con.execute(
                f"insert into {_quote(name)} select * from read_parquet('{_literal(path)}')"
            )
            rows = con.execute(f"select count(*) from {_quote(name)}").fetchall()[0][0]
            if rows != table["rows"]:
                raise InputError(
                    f"{path}: holds {rows} rows but the manifest says {table['rows']}; the backup "
                    "is damaged, restore from another one"
                )
        for view_sql in manifest["views"].values():
            con.execute(view_sql)
    log.info(
        "imported %d tables (%d rows) from %s",
        len(manifest["tables"]),
        sum(t["rows"] for t in manifest["tables"].values()),
        in_dir,
        extra={"event": "warehouse_imported", "path": str(in_dir)},
    )


def read_manifest(in_dir: Path) -> dict[str, Any]:
    """The manifest of a backup folder, checked: right format, every listed file present."""
    path = in_dir / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{path}: not found; import-warehouse needs a folder written by export-warehouse"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); the backup is damaged") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise InputError(
            f"{path}: backup format {manifest.get('format')!r}, this version reads "
            f"{FORMAT_VERSION}; import it with the version that wrote it"
        )
    missing = [t["file"] for t in manifest["tables"].values() if not (in_dir / t["file"]).is_file()]
    if missing:
        raise InputError(f"{in_dir}: files listed in {MANIFEST} are missing: {', '.join(missing)}")
    return manifest


def _tables_with_rows(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = [
        row[0]
        for row in con.execute(
            f"select table_name from duckdb_tables() where {_OWN_OBJECTS} order by table_name"
        ).fetchall()
    ]
    return [
        name
        for name in names
        if con.execute(f"select count(*) from {_quote(name)}").fetchall()[0][0] > 0
    ]


def _drop_everything(con: duckdb.DuckDBPyConnection) -> None:
    for kind, catalog, column in (
        ("view", "duckdb_views()", "view_name"),
        ("table", "duckdb_tables()", "table_name"),
        ("sequence", "duckdb_sequences()", "sequence_name"),
    ):
        internal = " and not internal" if kind == "view" else ""
        for (name,) in con.execute(
            f"select {column} from {catalog} where {_OWN_OBJECTS}{internal}"
        ).fetchall():
            con.execute(f"drop {kind} {_quote(name)}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
