"""The SQL files: models at the top of sql/, statements in its subfolders, one per file.

Python chooses which file to run and binds its parameters (`$name`); values are never formatted
into the text. Statements are not models: build runs only the top level of sql/.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def sql_statement(name: str) -> str:
    """The text of sql/NAME.sql, e.g. sql_statement("ingest/leads_insert")."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
