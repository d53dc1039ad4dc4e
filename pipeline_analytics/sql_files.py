"""The SQL files: models at the top of sql/, statements in its subfolders, one per file.

Python chooses which file to run and binds its parameters (`$name`); values are never formatted
into the text. Statements are not models: build runs only the top level of sql/.

The repository keeps them in its top-level sql/ folder, which a source checkout (the tests, an
editable install) reads in place; a wheel carries the same folder inside the package as
pipeline_analytics/sql/ (pyproject.toml maps it there), found through importlib.resources.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path


def _sql_dir() -> Path:
    installed = resources.files(__package__) / "sql"
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "sql"


SQL_DIR = _sql_dir()


@cache
def sql_statement(name: str) -> str:
    """The text of sql/NAME.sql, e.g. sql_statement("ingest/leads_insert")."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def sql_files_in(folder: str) -> list[Path]:
    """The .sql files of sql/FOLDER, in name order (their numbers, where they are numbered)."""
    return sorted((SQL_DIR / folder).glob("*.sql"))
