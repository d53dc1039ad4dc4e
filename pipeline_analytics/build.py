"""Build: run the SQL models in sql/ in dependency order, all in one transaction.

Each file at the top of sql/ is one model: a single query whose result becomes the table named
after the file. Dependencies are read from the SQL itself (a model depends on every other model it
names), so adding a model is adding a file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from pipeline_analytics.config import SparkSettings
from pipeline_analytics.errors import InputError, PipelineError
from pipeline_analytics.sql_files import SQL_DIR, sql_statement
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    sql: str


@dataclass(frozen=True)
class ModelGraph:
    """The models of a folder in build order (each after the models it reads), and what each
    model reads directly."""

    models: tuple[Model, ...]
    reads: Mapping[str, frozenset[str]]

    def upstream_of(self, names: Iterable[str]) -> tuple[Model, ...]:
        """The named models and every model they read, directly or not, in build order."""
        needed = set(names)
        for model in reversed(self.models):
            if model.name in needed:
                needed |= self.reads[model.name]
        return tuple(m for m in self.models if m.name in needed)


def model_graph(sql_dir: Path = SQL_DIR) -> ModelGraph:
    """Every model in sql_dir and the graph of what each reads, read once from the files."""
    if not sql_dir.is_dir():
        raise PipelineError(f"{sql_dir}: SQL models folder not found; reinstall with `make setup`")
    models = {
        p.stem: Model(p.stem, p, p.read_text(encoding="utf-8").strip().rstrip(";"))
        for p in sorted(sql_dir.glob("*.sql"))
    }
    reads = {name: names_read(m.sql, set(models) - {name}) for name, m in models.items()}
    try:
        order = list(TopologicalSorter(reads).static_order())
    except CycleError as exc:
        raise PipelineError(
            f"{sql_dir}: models depend on each other in a cycle: {exc.args[1]}"
        ) from exc
    return ModelGraph(tuple(models[name] for name in order), reads)


def names_read(sql: str, names: Iterable[str]) -> frozenset[str]:
    """The names (of tables or models) that a query mentions outside its comments."""
    text = re.sub(r"--[^\n]*", "", sql)
    return frozenset(n for n in names if re.search(rf"\b{re.escape(n)}\b", text))


def build(
    con: duckdb.DuckDBPyConnection,
    *,
    lookback_days: int,
    currency: str,
    as_of: datetime | None = None,
    fiscal_year_start_month: int = 1,
    sql_dir: Path = SQL_DIR,
    lead_expiry_days: int = 90,
    spark: SparkSettings | None = None,
) -> list[str]:
    """Rebuild every model; on any failure nothing changes. Returns model names in build order.

    fiscal_year_start_month (1-12) sets where fiscal quarters and years begin in the period marts.
    lead_expiry_days: a lead never converted counts as lost once older than this.
    spark: run the models on Spark there (its staging resolved) instead of in DuckDB; the tables
    they give are the same.
    """
    models = model_graph(sql_dir).models
    if as_of is None:
        as_of = latest_snapshot(con)
    with transaction(con):
        con.execute("delete from build_params")
        con.execute(
            sql_statement("ops/build_params_insert"),
            {
                "as_of": as_of,
                "lookback_days": lookback_days,
                "currency": currency,
                "fiscal_year_start_month": fiscal_year_start_month,
                "lead_expiry_days": lead_expiry_days,
            },
        )
        if spark is None:
            create_models(con, models)
        else:
            from pipeline_analytics.spark.build import create_models_on_spark

            create_models_on_spark(con, models, spark)
        _drop_stale_models(con, {m.name for m in models})
    return [m.name for m in models]


def latest_snapshot(con: duckdb.DuckDBPyConnection) -> datetime:
    """The default as_of: the latest snapshot_at over every loaded batch of every kind.

    A file's snapshot_at is its latest event, so this is the latest event of the newest export
    (deals, stage history, activities alike): a history file that runs past the deals file's last
    event moves as_of to its last stage change, and its changes count.
    """
    deals, latest = con.execute(sql_statement("ops/build_latest_snapshot")).fetchall()[0]
    if not deals or latest is None:
        raise InputError("the warehouse has no deals yet; run `pipeline-analytics ingest` first")
    return latest


def create_models(con: duckdb.DuckDBPyConnection, models: Iterable[Model]) -> None:
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
    tables = con.execute(sql_statement("ops/build_model_tables")).fetchall()
    for (name,) in tables:
        if name not in built:
            log.info("dropping %s: no model builds it any more", name)
            con.execute(f'drop table "{name}"')
