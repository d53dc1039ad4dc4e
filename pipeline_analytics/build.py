"""Build: run the SQL models in sql/ in dependency order, all in one transaction.

Each file in sql/ is one model: a single SELECT whose result becomes the table named after the file.
Dependencies are read from the SQL itself (a model depends on every other model it names), so adding
a model is adding a file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from pipeline_analytics.errors import InputError, PipelineError
from pipeline_analytics.sql_files import SQL_DIR
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)

# The build's own addition to the core schema (warehouses created before the column gain it here);
# backup.py applies it too, so a restored build_params has the column.
SCHEMA_ADDITIONS = (
    "alter table build_params add column if not exists fiscal_year_start_month integer;\n"
    "alter table build_params add column if not exists lead_expiry_days integer"
)


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    sql: str


def load_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Every model in sql_dir, ordered so that each comes after the models it reads."""
    if not sql_dir.is_dir():
        raise PipelineError(f"{sql_dir}: SQL models folder not found; reinstall with `make setup`")
    models = {
        p.stem: Model(p.stem, p, p.read_text(encoding="utf-8").strip().rstrip(";"))
        for p in sorted(sql_dir.glob("*.sql"))
    }
    graph = {
        name: {
            other
            for other in models
            if other != name and re.search(rf"\b{re.escape(other)}\b", _strip_comments(m.sql))
        }
        for name, m in models.items()
    }
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise PipelineError(
            f"{sql_dir}: models depend on each other in a cycle: {exc.args[1]}"
        ) from exc
    return [models[name] for name in order]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def build(
    con: duckdb.DuckDBPyConnection,
    *,
    lookback_days: int,
    currency: str,
    as_of: datetime | None = None,
    fiscal_year_start_month: int = 1,
    sql_dir: Path = SQL_DIR,
    lead_expiry_days: int = 90,
) -> list[str]:
    """Rebuild every model; on any failure nothing changes. Returns model names in build order.

    fiscal_year_start_month (1-12) sets where fiscal quarters and years begin in the period marts.
    lead_expiry_days: a lead never converted counts as lost once older than this.
    """
    models = load_models(sql_dir)
    if as_of is None:
        as_of = latest_snapshot(con)
    with transaction(con):
        con.execute(SCHEMA_ADDITIONS)
        con.execute("delete from build_params")
        con.execute(
            """
            insert into build_params (as_of, lookback_days, currency, built_at,
                                      fiscal_year_start_month, lead_expiry_days)
            values (?, ?, ?, current_timestamp::timestamp, ?, ?)
            """,
            [as_of, lookback_days, currency, fiscal_year_start_month, lead_expiry_days],
        )
        create_models(con, models)
        _drop_stale_models(con, {m.name for m in models})
    return [m.name for m in models]


def latest_snapshot(con: duckdb.DuckDBPyConnection) -> datetime:
    """The default as_of: the latest snapshot_at over every loaded batch of every kind.

    A file's snapshot_at is its latest event, so this is the latest event of the newest export
    (deals, stage history, activities alike): a history file that runs past the deals file's last
    event moves as_of to its last stage change, and its changes count.
    """
    deals, latest = con.execute(
        """
        select (select count(*) from deals),
               (select max(snapshot_at) from ingest_batches where status = 'loaded')
        """
    ).fetchall()[0]
    if not deals or latest is None:
        raise InputError("the warehouse has no deals yet; run `pipeline-analytics ingest` first")
    return latest


def create_models(con: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    """(Re)create each model's table from build_params and the core tables, in the caller's
    transaction."""
    for model in models:
        log.info("building %s", model.name)
        try:
            con.execute(f"create or replace table {model.name} as\n{model.sql}")
        except duckdb.Error as exc:
            raise PipelineError(f"{model.path}: model {model.name} failed: {exc}") from exc


def _drop_stale_models(con: duckdb.DuckDBPyConnection, built: set[str]) -> None:
    """Drop int_* and mart_* tables no model builds any more (left by an older version).

    Those prefixes belong to the build: a table of a removed model would otherwise stay behind
    with figures as of its last build, and analysts would read it as current.
    """
    tables = con.execute(
        """
        select table_name from duckdb_tables()
        where database_name = current_database() and schema_name = 'main' and not temporary
          and (starts_with(table_name, 'int_') or starts_with(table_name, 'mart_'))
        """
    ).fetchall()
    for (name,) in tables:
        if name not in built:
            log.info("dropping %s: no model builds it any more", name)
            con.execute(f'drop table "{name}"')
