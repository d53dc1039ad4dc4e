"""The SQL models as they stood at another moment, without touching the user's build.

The models in sql/ are as-of aware: they read build_params.as_of and ignore anything later. To
see the pipeline as it was at a backtest origin (or at a `forecast --as-of` other than the
build's), the models the forecast reads, and the models those read, are rebuilt at that moment in
an in-memory scratch database attached to the connection. Unqualified names resolve to the
scratch first and to the warehouse second, so the models read the warehouse's core tables and
the scratch's build_params. The warehouse, its build and its marts are left exactly as they were.

What the rebuild stores is kept small (the backtest rebuilds at 18 origins): a model read by one
query only (STREAMED) is a view, so its rows go straight into that query's result instead of being
stored first (int_forecast_stints is 3M rows at 1M deals); tests/test_forecast_asof.py checks the
views give the rows stored tables give. Every needed model is rebuilt from the core tables, never
read from the build: a build's table holds what was known at its own as_of.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import duckdb

from pipeline_analytics.build import Model, model_graph
from pipeline_analytics.errors import InputError, PipelineError

SCRATCH = "forecast_as_of"
# The models the engine, its cross-checks and the backtest read.
FORECAST_MODELS = (
    "int_forecast_stints",
    "int_forecast_open_deals",
    "int_stage_to_close",
    "int_deals_as_of",
    "int_forecast_monthly",
    "int_forecast_deal_ages",
)
# Read by one query each (sql/forecast/stints.sql, deal_ages.sql; int_forecast_open_deals).
STREAMED = frozenset({"int_forecast_stints", "int_forecast_deal_ages", "int_open_deal_stage"})


def build_as_of(con: duckdb.DuckDBPyConnection) -> datetime:
    """The as_of of the user's last build; an error naming the fix when there is none."""
    rows = con.execute("select as_of from build_params").fetchall()
    missing = [
        name
        for name in FORECAST_MODELS
        if not con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchall()[0][0]
    ]
    if not rows or missing:
        raise InputError(
            "the warehouse has not been built yet (or was built by an older version); "
            "run `pipeline-analytics build` first"
        )
    return rows[0][0]


@contextmanager
def models_as_of(con: duckdb.DuckDBPyConnection, as_of: datetime) -> Iterator[None]:
    """Within the block, the forecast models on `con` are those of a build at `as_of`.

    When as_of is the build's own, the warehouse's models are used as they are.
    """
    if as_of == build_as_of(con):
        yield
        return
    warehouse = _quoted(con.execute("select current_database()").fetchall()[0][0])
    # Attached databases are shared by every connection to the warehouse: one scratch per thread
    # lets the backtest rebuild two origins at once.
    scratch = f"{SCRATCH}_{threading.get_ident()}"
    con.execute(f"attach ':memory:' as {scratch}")
    try:
        con.execute(f"use {scratch}")
        search_path = f"{scratch}.main,{warehouse}.main".replace("'", "''")
        con.execute(f"set search_path = '{search_path}'")
        con.execute(f"create table build_params as select * from {warehouse}.main.build_params")
        con.execute("update build_params set as_of = ?", [as_of])
        for model in needed_models():
            kind = "view" if model.name in STREAMED else "table"
            try:
                con.execute(f"create {kind} {model.name} as\n{model.sql}")
            except duckdb.Error as exc:
                raise PipelineError(
                    f"{model.path}: model {model.name} failed when rebuilt as of {as_of}: {exc}"
                ) from exc
        yield
    finally:
        con.execute(f"use {warehouse}")
        con.execute("reset search_path")
        con.execute(f"detach {scratch}")


def _quoted(identifier: str) -> str:
    """A SQL identifier in double quotes: a warehouse file's name may hold any character."""
    return '"' + identifier.replace('"', '""') + '"'


@functools.cache
def needed_models() -> tuple[Model, ...]:
    """FORECAST_MODELS and every model they read, in build order (read once per process)."""
    return model_graph().upstream_of(FORECAST_MODELS)
