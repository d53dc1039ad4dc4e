"""The DuckDB warehouse: connection settings and the core tables of the warehouse contract.

Every step (ingest, build, forecast, report) talks to the next through these tables; see
docs/metrics.md for each column. Their definitions are sql/schema/ (one file per table), and the
changes since the first release sql/migrations/ (numbered, applied once to each warehouse).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline_analytics.config import WarehouseSettings
from pipeline_analytics.errors import InputError, PipelineError
from pipeline_analytics.sql_files import SQL_DIR, sql_files_in

DEFAULT_DB_PATH = Path("data/warehouse.duckdb")

# The migrations a warehouse has had (sql/schema/schema_migrations.sql).
MIGRATIONS_TABLE = "schema_migrations"
MIGRATIONS_DIR = SQL_DIR / "migrations"
_MIGRATION_FILE = re.compile(r"(\d{3})_(\w+)\.sql")


@dataclass(frozen=True)
class Migration:
    """One file of sql/migrations/: NNN_name.sql, applied once to each warehouse, in NNN order."""

    version: int
    name: str
    path: Path


def create_schema(con: duckdb.DuckDBPyConnection, migrations_dir: Path = MIGRATIONS_DIR) -> None:
    """Bring the warehouse on `con` to the current schema, in one transaction.

    The tables, sequences and views of sql/schema/ it lacks are created at their current shape
    (views last: they read the tables), then the migrations it has not had are applied and
    recorded. A new warehouse has every migration's change already, so each is written to leave
    it as it is (`add column if not exists`); a warehouse of an earlier version gains what it
    lacks, its columns in the same order as a new one's.
    """
    with transaction(con):
        for path in [*sql_files_in("schema"), *sql_files_in("schema/views")]:
            con.execute(path.read_text(encoding="utf-8"))
        applied = {v for (v,) in con.execute("select version from schema_migrations").fetchall()}
        for migration in migrations(migrations_dir):
            if migration.version not in applied:
                _apply(con, migration)
                con.execute(
                    "insert into schema_migrations values ($version, $name, now()::timestamp)",
                    {"version": migration.version, "name": migration.name},
                )


def _apply(con: duckdb.DuckDBPyConnection, migration: Migration) -> None:
    try:
        con.execute(migration.path.read_text(encoding="utf-8"))
    except duckdb.Error as exc:
        raise PipelineError(
            f"{migration.path}: migration {migration.version} failed, so the warehouse was left "
            f"as it was: {str(exc).splitlines()[0]}; fix the migration, then open it again"
        ) from exc


def migrations(migrations_dir: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in migrations_dir, in version order."""
    found: dict[int, Migration] = {}
    for path in sorted(migrations_dir.glob("*.sql")):
        if not (match := _MIGRATION_FILE.fullmatch(path.name)):
            raise PipelineError(
                f"{path}: a migration's file name is NNN_name.sql (three digits, the order it "
                "applies in); rename it"
            )
        version = int(match.group(1))
        if version in found:
            raise PipelineError(
                f"{path}: version {version} is also {found[version].path.name}; give one of "
                "them the next free number"
            )
        found[version] = Migration(version, match.group(2), path)
    return list(found.values())


def default_memory_limit() -> str:
    """Half the machine's RAM, at least 1 GB: DuckDB then spills to disk instead of failing."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "2GB"
    return f"{max(1, int(total / 2 / 2**30))}GB"


# Connections (by id) inside a `transaction` block: a block within one joins it.
_IN_TRANSACTION: set[int] = set()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block's statements commit together, or none do: rolled back if the block raises.

    A block inside another one (on the same connection) is part of the outer block, which alone
    commits or rolls back: a reload writes a source's files, each a `transaction` of its own in a
    normal ingest, as one.
    """
    if id(con) in _IN_TRANSACTION:
        yield
        return
    con.execute("begin transaction")
    _IN_TRANSACTION.add(id(con))
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _IN_TRANSACTION.discard(id(con))
    con.execute("commit")


def connect(db_path: Path, settings: WarehouseSettings | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse file with memory, temp and thread settings, its
    schema brought up to date (create_schema)."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB writes `<warehouse>.wal` next to the file at the first commit: a folder that
        # cannot take it would fail mid-command, after the work.
        if not os.access(db_path.parent, os.W_OK | os.X_OK):
            raise _cannot_open(db_path, "its folder is read-only")
        con = duckdb.connect(str(db_path))
    except OSError as exc:
        raise _cannot_open(db_path, exc.strerror or str(exc)) from None
    except duckdb.IOException as exc:
        if "Could not set lock" in str(exc):
            raise  # another program has it open: runs.open_warehouse waits or names it
        raise _cannot_open(db_path, str(exc).splitlines()[0]) from None
    temp_dir = (settings.temp_directory if settings else None) or db_path.with_suffix(".tmp")
    con.execute(
        f"set memory_limit = '{(settings and settings.memory_limit) or default_memory_limit()}'"
    )
    con.execute(f"set temp_directory = '{temp_dir}'")
    if settings and settings.threads:
        con.execute(f"set threads = {int(settings.threads)}")
    # Inside Jupyter without ipywidgets DuckDB refuses to touch this setting (its bar is off there).
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("set enable_progress_bar = false")
    con.execute("set TimeZone = 'UTC'")  # naive export timestamps are read as UTC
    create_schema(con)
    return con


def _cannot_open(db_path: Path, reason: str) -> InputError:
    return InputError(
        f"cannot open or create the warehouse {db_path} ({reason}); make its folder writable, "
        "or point [warehouse] path in the config (or --db PATH) to a writable location"
    )


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    return rows[0][0] > 0
