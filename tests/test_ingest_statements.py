"""The statements ingest runs from sql/ingest/: each one it names exists and holds one statement."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipeline_analytics.sql_files import sql_statement

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline_analytics"
NAMED = re.compile(r'sql_statement\(\s*"(ingest/\w+)"')


def named_statements() -> set[str]:
    return {name for path in PACKAGE.rglob("*.py") for name in NAMED.findall(path.read_text())}


def test_every_named_statement_is_one_statement() -> None:
    names = named_statements()
    assert {"ingest/stage_events_insert", "ingest/batch_start"} <= names  # the scan finds them
    con = duckdb.connect()
    counts = {name: len(con.extract_statements(sql_statement(name))) for name in sorted(names)}
    assert {name: n for name, n in counts.items() if n != 1} == {}


def test_statements_bind_parameters_instead_of_formatting_them() -> None:
    """A `{...}` left in a statement would be a fragment meant to be formatted in."""
    formatted = sorted(
        n for n in named_statements() if re.search(r"\{[A-Za-z_]\w*\}", sql_statement(n))
    )
    assert formatted == []
