"""The table `inferred_settings`: every setting ingest inferred because the config left it out.

Kept apart from the inference itself so that the low-level readers (staging's date layouts) can
record what they decided without depending on the inference rules.
"""

from __future__ import annotations

import logging

import duckdb

from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger("pipeline_analytics.ingest.inference")

# The `source` of settings that hold for the whole warehouse (stage order, reporting currency).
WAREHOUSE = "*"


def record_inference(
    con: duckdb.DuckDBPyConnection,
    source: str,
    setting: str,
    value: str,
    basis: str,
    batch_id: int | None = None,
) -> None:
    """Store one inferred setting (replacing the source's earlier value of it) and log it."""
    con.execute("delete from inferred_settings where source = ? and setting = ?", [source, setting])
    con.execute(
        "insert into inferred_settings values (?, ?, ?, ?, ?)",
        [source, setting, value, basis, batch_id],
    )
    where = "warehouse" if source == WAREHOUSE else f"source '{source}'"
    log.info("inferred (%s): %s = %s (%s)", where, setting, value, basis)


def recorded(con: duckdb.DuckDBPyConnection, source: str, setting: str) -> tuple[str, str] | None:
    """(value, basis) of an inferred setting, or None."""
    rows = con.execute(
        "select value, basis from inferred_settings where source = ? and setting = ?",
        [source, setting],
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def stamp_batch(con: duckdb.DuckDBPyConnection, source: str, batch_id: int) -> None:
    """Settings inferred while a file was staged belong to the batch that file became."""
    con.execute(
        sql_statement("ingest/inferred_settings_stamp_batch"),
        {"batch_id": batch_id, "source": source},
    )
