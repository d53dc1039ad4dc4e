"""Backup and restore: the warehouse's own tables as Parquet, with a manifest of row counts.

`export-warehouse DIR` writes `<table>.parquet` for each table of our schema (the tables of
sql/schema/, schema_migrations included: the migrations the data has had travel with it), read in
one transaction so all files show the same moment, plus `manifest.json`: each table's file and row
count and where each id sequence stands. The folder appears under its final name only when
complete. The Parquet files are plain, so any tool can read a backup without this program.

A backup is data, never code (docs/backup.md). `import-warehouse DIR` builds the schema from our own
definitions, reads only `<table>.parquet` inside the folder, matches columns by name and casts them
to our types, rebuilds the model tables (int_*, mart_*) from the restored data, and refuses
anything else with one line naming the manifest key or file. It all happens in one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline_analytics import __version__
from pipeline_analytics.build import create_models, model_graph
from pipeline_analytics.errors import InputError
from pipeline_analytics.warehouse import MIGRATIONS_TABLE, create_schema, transaction

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# 2: no SQL in the manifest (format 1 held CREATE statements and views; import ignores them).
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
# The warehouse's own catalog entries, not those of temp tables or DuckDB's system schemas.
_OWN_OBJECTS = "database_name = current_database() and schema_name = 'main' and not temporary"
_OWN_COLUMNS = f"table_oid in (select table_oid from duckdb_tables() where {_OWN_OBJECTS})"
# Tables the build owns: never in a backup, rebuilt by import from the restored tables.
MODEL_PREFIXES = ("int_", "mart_")
# Tables and columns our schema gained after backups were first written: an older backup may lack
# them, and they restore empty or NULL, as in a warehouse of that age upgraded in place (its
# migrations). A table or column added to the schema goes here.
LATER_ADDITIONS = frozenset(
    {
        "run_steps",
        "flagged_values",
        "forecast_deals.amount_imputed",
        "build_params.fiscal_year_start_month",
        "leads",
        "crm_names",
        "deals.lead_id",
        "build_params.lead_expiry_days",
        "ingest_batches.settings_fingerprint",
        "ingest_batches.settings_json",
        "forecast_deal_periods",
        "forecast_targets",
        "forecast_runs.scenario",
        "alerts",
        "notifications",
        "deals.forecast_category",
        "deal_snapshots.forecast_category",
        "forecast_backtest_origins",
        "forecast_backtest_forecasts",
        MIGRATIONS_TABLE,
    }
)
# The column holding the ids each sequence hands out: a sequence behind them would reuse ids.
SEQUENCE_IDS = {"batch_id_seq": ("ingest_batches", "batch_id"), "run_id_seq": ("runs", "run_id")}
_MAX_BIGINT = 2**63 - 1

# Parquet types a column of our type may have: ours, or one of the same kind that casts without
# changing meaning (another tool may write BIGINT for INTEGER); a value out of range is refused.
_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"}
    | {"UBIGINT", "UHUGEINT"}
)
_TIMESTAMPS = frozenset(
    {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"}
)
_SAME_KIND = {
    "INTEGER": _INTEGERS,
    "BIGINT": _INTEGERS,
    "DOUBLE": _INTEGERS | {"FLOAT", "DOUBLE"},
    "TIMESTAMP": _TIMESTAMPS,
}


@dataclass(frozen=True)
class Schema:
    """Our tables (name -> [(column, type)]) and sequences (name -> increment)."""

    tables: dict[str, list[tuple[str, str]]]
    sequences: dict[str, int]


@dataclass(frozen=True)
class TableFile:
    """One table's checked Parquet file and the SELECT list that reads it into our columns."""

    table: str
    path: Path
    rows: int
    columns: list[str]
    select: list[str]


@dataclass(frozen=True)
class Backup:
    """A backup folder whose manifest and files have been checked (see read_manifest)."""

    folder: Path
    format: int
    tables: list[TableFile]
    sequences: dict[str, int]  # name -> next value


def our_schema() -> Schema:
    """Our schema, read from the catalog of a fresh in-memory warehouse built by our own DDL."""
    con = duckdb.connect()
    try:
        create_schema(con)
        tables: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in con.execute(
            f"select table_name, column_name, data_type from duckdb_columns() where {_OWN_COLUMNS} "
            "order by table_name, column_index"
        ).fetchall():
            tables.setdefault(table, []).append((column, data_type))
        sequences = dict(
            con.execute(
                f"select sequence_name, increment_by from duckdb_sequences() where {_OWN_OBJECTS}"
            ).fetchall()
        )
    finally:
        con.close()
    return Schema(tables, sequences)


# --- export ---------------------------------------------------------------------------------------


def export_warehouse(con: duckdb.DuckDBPyConnection, out_dir: Path) -> None:
    """Write our tables and the manifest to out_dir, which must be new or empty."""
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
            manifest = _write_tables(con, staging, our_schema())
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


def _write_tables(con: duckdb.DuckDBPyConnection, folder: Path, schema: Schema) -> dict[str, Any]:
    present: dict[str, set[str]] = {}
    for table, column in con.execute(
        f"select table_name, column_name from duckdb_columns() where {_OWN_COLUMNS}"
    ).fetchall():
        present.setdefault(table, set()).add(column)
    others = sorted(set(present) - set(schema.tables))
    if not_models := [t for t in others if not t.startswith(MODEL_PREFIXES)]:
        log.warning(
            "not in the backup, not tables of this program: %s",
            ", ".join(not_models),
            extra={"event": "backup_skipped_tables"},
        )
    tables: dict[str, Any] = {}
    for name, columns in sorted(schema.tables.items()):
        # Always our columns in our order: NULL where a warehouse not yet migrated lacks one (the
        # export opens it read-only), no rows where it lacks the table.
        have = present.get(name, set())
        select = ", ".join(
            _quote(c) if c in have else f"null::{t} as {_quote(c)}" for c, t in columns
        )
        source = f"from {_quote(name)}" if have else "where false"
        file_name = f"{name}.parquet"
        con.execute(
            f"copy (select {select} {source}) to '{_literal(folder / file_name)}' (format parquet)"
        )
        rows = con.execute(f"select count(*) {source}").fetchall()[0][0]
        tables[name] = {"file": file_name, "rows": rows}
    sequences = {
        name: {"next": start if last is None else last + increment}
        for name, start, increment, last in con.execute(
            "select sequence_name, start_value, increment_by, last_value from duckdb_sequences() "
            f"where {_OWN_OBJECTS} order by sequence_name"
        ).fetchall()
        if name in schema.sequences
    }
    return {
        "format": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pipeline_analytics_version": __version__,
        "tables": tables,
        "sequences": sequences,
    }


# --- import ---------------------------------------------------------------------------------------


def import_warehouse(
    con: duckdb.DuckDBPyConnection, in_dir: Path, backup: Backup, *, replace: bool
) -> None:
    """Recreate the warehouse from a checked backup (see read_manifest) in one transaction.

    A warehouse that already holds rows is only overwritten with replace=True, and then entirely:
    what is not in the backup is dropped. The model tables are rebuilt from the restored tables
    when the backup had been built (build_params holds its parameters).
    """
    if not replace and (filled := _tables_with_rows(con)):
        raise InputError(
            f"the target warehouse already holds data ({', '.join(filled[:3])}"
            f"{', ...' if len(filled) > 3 else ''}); import into a new --db path, or pass "
            "--replace to overwrite it with the backup"
        )
    with transaction(con):
        _drop_everything(con)
        create_schema(con)
        increments = dict(
            con.execute(
                f"select sequence_name, increment_by from duckdb_sequences() where {_OWN_OBJECTS}"
            ).fetchall()
        )
        for name, next_value in backup.sequences.items():
            con.execute(
                f"create or replace sequence {_quote(name)} increment by {int(increments[name])} "
                f"start with {int(next_value)}"
            )
        # The backup's record of migrations replaces the new one; those its data has not had (a
        # backup written by an earlier version) then apply to the restored rows.
        con.execute(f"delete from {MIGRATIONS_TABLE}")
        for table in backup.tables:
            _insert(con, table)
        create_schema(con)
        if con.execute("select count(*) from build_params").fetchall()[0][0]:
            create_models(con, model_graph().models)
    log.info(
        "imported %d tables (%d rows) from %s",
        len(backup.tables),
        sum(t.rows for t in backup.tables),
        in_dir,
        extra={"event": "warehouse_imported", "path": str(in_dir)},
    )


def _insert(con: duckdb.DuckDBPyConnection, table: TableFile) -> None:
    _backup_file(table.path.parent, table.path.name, f"table {table.table}")  # still no link
    try:
        con.execute(
            f"insert into {_quote(table.table)} ({', '.join(map(_quote, table.columns))}) "
            f"select {', '.join(table.select)} from read_parquet('{_literal(table.path)}')"
        )
    except duckdb.Error as exc:  # the file changed since it was checked
        raise InputError(
            f"{table.path}: could not be read into {table.table} ({_first_line(exc)}); the "
            "backup is damaged, restore from another one"
        ) from exc
    rows = con.execute(f"select count(*) from {_quote(table.table)}").fetchall()[0][0]
    if rows != table.rows:
        raise InputError(
            f"{table.path}: holds {rows} rows but the manifest says {table.rows}; the backup is "
            "damaged, restore from another one"
        )


def read_manifest(in_dir: Path) -> Backup:
    """The backup in in_dir, checked whole before any warehouse is touched: the manifest's every
    key, each table's file (inside the folder, by name), its columns and types and row count."""
    path = _backup_file(in_dir, MANIFEST, f"{MANIFEST} (the backup's table of contents)")
    if not path.is_file():
        raise InputError(
            f"{path}: not found; import-warehouse needs a folder written by export-warehouse"
        )
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"), object_pairs_hook=_no_repeats)
    except _RepeatedKeyError as exc:
        raise InputError(
            f"{path}: key {json.dumps(str(exc))} appears twice in one object; which one is meant "
            "cannot be told, the backup is damaged"
        ) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); the backup is damaged") from exc
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); the backup is damaged") from exc
    where = f"{path}: "
    if not isinstance(manifest, dict):
        raise InputError(f"{where}expected a JSON object, found {_json_kind(manifest)}")
    version = manifest.get("format")
    if not _is_int(version) or version not in READABLE_FORMATS:
        raise InputError(
            f"{where}format: {json.dumps(version)}, this version reads backup formats "
            f"{' and '.join(map(str, READABLE_FORMATS))}; import it with the version that wrote it"
        )
    # Format 1 also held CREATE statements and views: allowed there, and never read.
    known = {"format", "exported_at", "pipeline_analytics_version", "tables", "sequences"}
    _only_keys(manifest, known | ({"views"} if version == 1 else set()), where, "")
    for key in ("exported_at", "pipeline_analytics_version"):
        if key in manifest and not isinstance(manifest[key], str):
            raise InputError(f"{where}{key}: expected text, found {_json_kind(manifest[key])}")
    if version == 1:
        _mapping(manifest, "views", where, required=False)
    schema = our_schema()
    rows = _table_rows(manifest, version, schema, where)
    sequences = _sequences(manifest, version, schema, where)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")  # as in the warehouse: a zoned timestamp reads as UTC
        tables = [
            _check_file(con, in_dir, name, rows[name], schema.tables[name])
            for name in schema.tables
            if name in rows
        ]
        _check_sequences_ahead(con, tables, sequences, where)
    finally:
        con.close()
    return Backup(in_dir, version, tables, sequences)


def _table_rows(
    manifest: dict[str, Any], version: int, schema: Schema, where: str
) -> dict[str, int]:
    entries = _mapping(manifest, "tables", where)
    rows: dict[str, int] = {}
    for name, entry in entries.items():
        key = f"tables.{name}"
        if name.startswith(MODEL_PREFIXES) and version == 1:
            continue  # format 1 held the build's tables too: rebuilt instead
        if name not in schema.tables:
            raise InputError(
                f"{where}{key}: not a table a backup holds (the model tables int_*/mart_* are "
                "rebuilt on import); remove it, or import with the version that wrote it"
            )
        if not isinstance(entry, dict):
            raise InputError(f"{where}{key}: expected an object, found {_json_kind(entry)}")
        _only_keys(entry, {"file", "rows"} | ({"create"} if version == 1 else set()), where, key)
        if "file" in entry and entry["file"] != f"{name}.parquet":
            raise InputError(
                f"{where}{key}.file: {json.dumps(entry['file'])}, expected "
                f'"{name}.parquet" (a backup reads only its own files, by table name)'
            )
        if "create" in entry and not isinstance(entry["create"], str):
            raise InputError(f"{where}{key}.create: expected text")
        count = entry.get("rows")
        if not _is_int(count) or not 0 <= count <= _MAX_BIGINT:
            raise InputError(
                f"{where}{key}.rows: {json.dumps(count)}, expected the table's row count "
                "(a whole number >= 0)"
            )
        rows[name] = count
    missing = sorted(set(schema.tables) - set(rows) - LATER_ADDITIONS)
    if missing:
        raise InputError(
            f"{where}tables: {', '.join(missing)} missing; the backup is incomplete, restore "
            "from another one"
        )
    return rows


def _sequences(
    manifest: dict[str, Any], version: int, schema: Schema, where: str
) -> dict[str, int]:
    entries = _mapping(manifest, "sequences", where)
    if unknown := sorted(set(entries) - set(schema.sequences)):
        raise InputError(
            f"{where}sequences.{unknown[0]}: not a sequence of this warehouse (expected "
            f"{', '.join(sorted(schema.sequences))})"
        )
    if missing := sorted(set(schema.sequences) - set(entries)):
        raise InputError(f"{where}sequences: {', '.join(missing)} missing")
    sequences: dict[str, int] = {}
    for name, entry in entries.items():
        key = f"sequences.{name}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}{key}: expected an object, found {_json_kind(entry)}")
        _only_keys(entry, {"next"} | ({"increment"} if version == 1 else set()), where, key)
        if "increment" in entry and entry["increment"] != schema.sequences[name]:
            raise InputError(
                f"{where}{key}.increment: {json.dumps(entry['increment'])}, expected "
                f"{schema.sequences[name]}"
            )
        value = entry.get("next")
        if not _is_int(value) or not 1 <= value <= _MAX_BIGINT:
            raise InputError(
                f"{where}{key}.next: {json.dumps(value)}, expected the next id (a whole number "
                f"from 1 to {_MAX_BIGINT})"
            )
        sequences[name] = value
    return sequences


def _check_file(
    con: duckdb.DuckDBPyConnection,
    in_dir: Path,
    table: str,
    rows: int,
    columns: list[tuple[str, str]],
) -> TableFile:
    """One table's file: Parquet, inside the folder, our columns, castable, `rows` rows."""
    path = _backup_file(in_dir, f"{table}.parquet", f"table {table}")
    if not path.is_file():
        raise InputError(f"{path}: missing (listed in {MANIFEST}); the backup is incomplete")
    source = f"read_parquet('{_literal(path)}')"
    try:
        found = {
            name: data_type
            for name, data_type, *_ in con.execute(f"describe select * from {source}").fetchall()
        }
        count = con.execute(f"select count(*) from {source}").fetchall()[0][0]
    except duckdb.Error as exc:
        raise InputError(
            f"{path}: not a readable Parquet file ({_first_line(exc)}); the backup is damaged"
        ) from exc
    ours = dict(columns)
    if extra := [c for c in found if c not in ours]:
        raise InputError(
            f"{path}: column {extra[0]} is not a column of {table}; the file was not written "
            "for this version's warehouse, import it with the version that wrote it"
        )
    if missing := [c for c in ours if c not in found and f"{table}.{c}" not in LATER_ADDITIONS]:
        raise InputError(
            f"{path}: column {missing[0]} of {table} is missing; the backup is damaged"
        )
    for column, data_type in columns:
        if column in found and found[column] != data_type:
            _check_cast(con, path, source, column, found[column], data_type)
    if count != rows:
        raise InputError(
            f"{path}: holds {count} rows but the manifest says {rows}; the backup is damaged, "
            "restore from another one"
        )
    return TableFile(
        table=table,
        path=path,
        rows=rows,
        columns=[c for c, _ in columns],
        select=[f"cast({_quote(c)} as {t})" if c in found else f"null::{t}" for c, t in columns],
    )


def _check_cast(
    con: duckdb.DuckDBPyConnection, path: Path, source: str, column: str, found: str, ours: str
) -> None:
    if found not in _SAME_KIND.get(ours, frozenset()):
        raise InputError(
            f"{path}: column {column} is {found}, expected {ours}; the file was not written by "
            "export-warehouse"
        )
    quoted = _quote(column)
    failed = con.execute(
        f"select count(*) from {source} where {quoted} is not null "
        f"and try_cast({quoted} as {ours}) is null"
    ).fetchall()[0][0]
    if failed:
        raise InputError(
            f"{path}: column {column} has {failed} value(s) that do not fit {ours}; the backup "
            "is damaged"
        )


def _check_sequences_ahead(
    con: duckdb.DuckDBPyConnection,
    tables: list[TableFile],
    sequences: dict[str, int],
    where: str,
) -> None:
    files = {t.table: t for t in tables}
    for name, (table, column) in SEQUENCE_IDS.items():
        if name not in sequences or table not in files:
            continue
        highest = con.execute(
            f"select max({_quote(column)}) from read_parquet('{_literal(files[table].path)}')"
        ).fetchall()[0][0]
        if highest is not None and sequences[name] <= highest:
            raise InputError(
                f"{where}sequences.{name}.next: {sequences[name]}, but {table} already holds "
                f"{column} {highest}; the next id would be reused, the backup is inconsistent"
            )


class _RepeatedKeyError(ValueError):
    pass


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json would silently keep the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKeyError(key)
        result[key] = value
    return result


def _backup_file(in_dir: Path, name: str, what: str) -> Path:
    """A file of the backup by name: inside the folder, never a link to somewhere else."""
    path = in_dir / name
    if path.is_symlink():
        raise InputError(
            f"{path}: is a link, but a backup holds its {what} as a plain file; copy the file "
            "into the folder in its place"
        )
    return path


def _mapping(
    manifest: dict[str, Any], key: str, where: str, *, required: bool = True
) -> dict[str, Any]:
    if key not in manifest:
        if required:
            raise InputError(f"{where}{key}: missing; the backup is damaged")
        return {}
    value = manifest[key]
    if not isinstance(value, dict):
        raise InputError(f"{where}{key}: expected an object, found {_json_kind(value)}")
    return value


def _only_keys(entry: dict[str, Any], allowed: set[str], where: str, key: str) -> None:
    if unknown := sorted(set(entry) - allowed):
        inside = f"{key}." if key else ""
        raise InputError(
            f"{where}{inside}{unknown[0]}: not a key of this backup format (expected "
            f"{', '.join(sorted(allowed))})"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _tables_with_rows(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables holding data an import would overwrite; a new warehouse's record of its migrations
    is not such data."""
    names = [
        row[0]
        for row in con.execute(
            f"select table_name from duckdb_tables() where {_OWN_OBJECTS} order by table_name"
        ).fetchall()
    ]
    return [
        name
        for name in names
        if name != MIGRATIONS_TABLE
        and con.execute(f"select count(*) from {_quote(name)}").fetchall()[0][0] > 0
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
