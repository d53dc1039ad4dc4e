"""The forecast category (the rep's call) normalized to five names, for every adapter.

CRMs spell the same call differently (Salesforce `BestCase`/`Best Case`/`Forecast`, HubSpot
`BEST_CASE`/`COMMIT`, Italian labels); `aliases/forecast_categories.toml` lists the spellings of
each stored name: Pipeline, Best Case, Commit, Closed, Omitted. A value in no list is kept as
written, so nothing the export said is lost, and the warning names it.
"""

from __future__ import annotations

import logging
import tomllib
from functools import cache
from importlib import resources

import duckdb

from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)
CATEGORIES = ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")
# Unrecognised values named in the warning.
VALUES_LISTED = 5


@cache
def spellings() -> dict[str, tuple[str, ...]]:
    """Stored name -> the compacted spellings that mean it."""
    text = resources.files("pipeline_analytics.ingest").joinpath("aliases/forecast_categories.toml")
    raw = tomllib.loads(text.read_text(encoding="utf-8"))["categories"]
    return {name: tuple(values) for name, values in raw.items()}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def compact_sql(text_expr: str) -> str:
    """SQL: the value lower-cased with everything but letters removed."""
    return f"regexp_replace(lower({text_expr}), '[^a-zà-ÿ]', '', 'g')"


def normalized_sql(text_expr: str) -> str:
    """SQL: the stored forecast category of a text value (NULL stays NULL)."""
    compact = compact_sql(text_expr)
    whens = " ".join(
        f"when {compact} in ({', '.join(_literal(v) for v in values)}) then {_literal(name)}"
        for name, values in spellings().items()
    )
    return f"case {whens} else {text_expr} end"


def warn_unknown_categories(con: duckdb.DuckDBPyConnection, file_label: str) -> None:
    """After a deals file is staged: name its forecast categories that are none of the five."""
    rows = con.execute(
        sql_statement("ingest/forecast_categories_unknown"),
        {"known": list(CATEGORIES), "listed": VALUES_LISTED + 1},
    ).fetchall()
    if not rows:
        return
    listed = ", ".join(f"'{value}' ({n})" for value, n in rows[:VALUES_LISTED])
    log.warning(
        "%s: forecast category value(s) not recognised: %s%s; they are kept as written and left "
        "out of the category roll-up; write Pipeline, Best Case, Commit, Closed or Omitted in the "
        "export (the spellings read are in docs/crm-adapters.md)",
        file_label,
        listed,
        ", ..." if len(rows) > VALUES_LISTED else "",
    )
