"""Ingest's temp tables and views: their names, how they are made and dropped, whether they exist.

A file's load passes its rows from step to step through connection-local temp tables:
- the staged tables adapters write (`STAGED_TABLES`, columns in `staging`), one file at a time;
- `incoming_deals` (a deals file's rows as deal rows) and `future_values` (event times after the
  load moment), written by `deals`;
- `affected_deals`, the deals whose stage events a file touched (`stage_events` rebuilds them);
- views a step prepares over a table whose name or columns vary, so that the statement reading
  them is a fixed file under sql/ingest/: `batch_rows` (a file's staged rows), `raw_records` (the
  raw lines of its `rejected_lines` as JSON), `rate_values` (the rates file read with its
  locale) and `deal_reading`, through which `staging` types and checks a deals file.
"""

from __future__ import annotations

import duckdb

from pipeline_analytics.sql_files import sql_statement

STAGED_DEALS = "staged_deals"
STAGED_HISTORY = "staged_history"
STAGED_CHANGES = "staged_changes"
STAGED_STAGES = "staged_stages"
STAGED_NAMES = "staged_names"
STAGED_TABLES = (STAGED_DEALS, STAGED_HISTORY, STAGED_CHANGES, STAGED_STAGES, STAGED_NAMES)
INCOMING_DEALS = "incoming_deals"
FUTURE_VALUES = "future_values"
AFFECTED_DEALS = "affected_deals"
# Made and dropped inside one step (`reference.apply_stage_order`, `inference.infer_stage_order`).
OPEN_STAGE_ORDER = "open_stage_order"
REORDERED_DEALS = "reordered_deals"

BATCH_ROWS = "batch_rows"
REJECTED_LINES = "rejected_lines"
RAW_RECORDS = "raw_records"
# `raw_records`' rows copied out of the loaded file, so the file's table can go early.
KEPT_RAW_RECORDS = "kept_raw_records"
RATE_VALUES = "rate_values"
# A deals file on its way to staged_deals: its text, typed values, checks and verdicts, in layers
# (files.create_reading_view).
DEAL_READING = "deal_reading"


def exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ?", [name]
    ).fetchall()
    return rows[0][0] > 0


def drop(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    for name in names:
        con.execute(f"drop table if exists {name}")


def drop_views(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    for name in names:
        con.execute(f"drop view if exists {name}")


def create_view(con: duckdb.DuckDBPyConnection, name: str, query: str) -> None:
    """Temp view `name` over `query`: a projection whose expressions a step builds (no values)."""
    con.execute(f"create or replace temp view {name} as {query}")


def create_affected_deals(con: duckdb.DuckDBPyConnection) -> None:
    """An empty `affected_deals`, which a file's writing steps fill."""
    con.execute(f"create or replace temp table {AFFECTED_DEALS} (deal_id varchar)")


def affected_deals_from_pending(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """`affected_deals` as the deals of `source` queued in pending_stage_events."""
    con.execute(sql_statement("ingest/affected_deals_from_pending"), {"source": source})


def show_batch_rows(con: duckdb.DuckDBPyConnection, staged_table: str, latest_event: str) -> None:
    """View `batch_rows` over a file's staged rows, with `latest_event` (SQL over its columns)."""
    create_view(con, BATCH_ROWS, f"select *, {latest_event} as latest_event from {staged_table}")


def show_raw_records(con: duckdb.DuckDBPyConnection, loaded_table: str, record: str) -> None:
    """View `raw_records` (_row, raw_record): `record` (SQL over the loaded file's columns) for
    the lines in temp table `rejected_lines`."""
    create_view(
        con,
        RAW_RECORDS,
        f"select _row, {record} as raw_record from {loaded_table} "
        f"where _row in (select _row from {REJECTED_LINES})",
    )


def keep_raw_records(con: duckdb.DuckDBPyConnection) -> None:
    """View `raw_records` over a copy of its rows (temp table `kept_raw_records`): it no longer
    reads the loaded file, which can be dropped. Only rejected lines are copied: few rows."""
    con.execute(f"create or replace temp table {KEPT_RAW_RECORDS} as select * from {RAW_RECORDS}")
    create_view(con, RAW_RECORDS, f"select * from {KEPT_RAW_RECORDS}")


def drop_batch_views(con: duckdb.DuckDBPyConnection) -> None:
    """What a batch's bookkeeping prepared over the file's rows."""
    drop_views(con, RAW_RECORDS, BATCH_ROWS)
    drop(con, REJECTED_LINES, KEPT_RAW_RECORDS)
