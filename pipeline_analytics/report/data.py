"""Reading the warehouse for the report: rows as dicts, and why a section cannot be shown yet.

Sections are written against the table and column names of the warehouse contract; a table or
column that a build or forecast has not produced yet makes its section say so instead of failing,
so a report can be written at every stage of a project's life.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import duckdb

from pipeline_analytics.report.i18n import Translator

Row = dict[str, Any]


def fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
) -> list[Row]:
    """Rows as dicts; DECIMAL values (exact sums of cents) arrive as floats, as charts need.

    `params` binds `?` in order, or `$name` by name (the statements of sql/)."""
    cursor = con.execute(sql, dict(params) if isinstance(params, Mapping) else list(params))
    names = [column[0] for column in cursor.description]
    return [
        {
            name: float(v) if isinstance(v, Decimal) else v
            for name, v in zip(names, row, strict=True)
        }
        for row in cursor.fetchall()
    ]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from duckdb_columns() where table_name = ?", [table]
    ).fetchall()
    return {name for (name,) in rows}


def unavailable_reason(
    con: duckdb.DuckDBPyConnection, t: Translator, table: str, columns: Sequence[str] = ()
) -> str | None:
    """Why a section built on `table` (and these of its columns) cannot be shown, or None."""
    present = table_columns(con, table)
    if not present:
        return t("Not available yet: the warehouse has no {table} table.", table=table)
    missing = [c for c in columns if c not in present]
    if missing:
        return t(
            "Not available yet: {table} has no column {columns}.",
            table=table,
            columns=", ".join(missing),
        )
    if not fetch(con, f"select 1 as present from {table} limit 1"):
        return t("Not available yet: {table} has no rows.", table=table)
    return None


def unreadable_reason(
    con: duckdb.DuckDBPyConnection, t: Translator, table: str, columns: Sequence[str] = ()
) -> str | None:
    """Why `table` cannot be read: it or one of `columns` is missing; None when it can, even
    with no rows (for a table whose emptiness the section says in its own words)."""
    present = table_columns(con, table)
    if present and set(columns) <= present:
        return None
    return unavailable_reason(con, t, table, columns)


def first_unavailable(
    con: duckdb.DuckDBPyConnection, t: Translator, needs: dict[str, Sequence[str]]
) -> str | None:
    """The first reason among several tables (name -> columns) that stops a section."""
    for table, columns in needs.items():
        reason = unavailable_reason(con, t, table, columns)
        if reason:
            return reason
    return None
