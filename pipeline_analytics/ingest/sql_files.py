"""Ingest's set work kept as readable SQL files under sql/ingest/, one statement per file.

Python chooses which file to run and binds its parameters (`$name`); values are never formatted
into the text. The files are not models: build runs only the top level of sql/.
"""

from __future__ import annotations

from functools import cache

from pipeline_analytics.build import SQL_DIR

INGEST_SQL_DIR = SQL_DIR / "ingest"


@cache
def ingest_sql(name: str) -> str:
    """The text of sql/ingest/NAME.sql."""
    return (INGEST_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
