"""Stage events: the stints each deal spent in each stage, from its stage changes or snapshots.

A history file's stage changes go to `stage_changes` as the file loads; the deals a file touched
(temp table `affected_deals`) are queued in `pending_stage_events`, and their events are rebuilt
once per source after its files are loaded (`apply_pending_stage_events`).
"""

from __future__ import annotations

import duckdb

from pipeline_analytics.ingest import temp_tables
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction


def write_stage_changes(con: duckdb.DuckDBPyConnection, source: str, batch_id: int) -> None:
    """Stage changes: rows that repeat the deal's previous stage in the file are not changes.

    History tables log every amount or close-date edit with the current stage, so most rows of a
    history export repeat the stage; keeping only the changes shrinks what the stint derivation
    sorts. A stage held since creation starts at the deal's creation; for a deal without a
    creation date such a row tells no time and is left out (its current stage still has an event).
    """
    # Overlapping history exports repeat changes: the statement leaves out those already stored.
    con.execute(
        sql_statement("ingest/stage_changes_insert"), {"source": source, "batch_id": batch_id}
    )
    con.execute(sql_statement("ingest/affected_deals_from_history"))


def queue_affected_deals(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """The deals a file touched (temp table `affected_deals`) wait for their events' rebuild."""
    con.execute(
        "insert into pending_stage_events select distinct ?, deal_id from affected_deals",
        [source],
    )


def apply_pending_stage_events(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the stage events of every deal a loaded file touched, once per source.

    Deriving stints sorts all of a deal's history, so it runs once after a source's files rather
    than after each file; the pending list makes that safe across a crash.
    """
    sources = con.execute("select distinct source from pending_stage_events").fetchall()
    for (source,) in sources:
        try:
            with transaction(con):
                temp_tables.affected_deals_from_pending(con, source)
                rebuild_stage_events(con, source)
                con.execute("delete from pending_stage_events where source = ?", [source])
        finally:
            temp_tables.drop(con, temp_tables.AFFECTED_DEALS)


def rebuild_stage_events(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Recompute deal_stage_events for the deals in temp table `affected_deals`.

    How stints are derived (from stage changes, else from snapshots) is told in
    sql/ingest/stage_events_insert.sql.
    """
    con.execute(sql_statement("ingest/stage_events_delete"), {"source": source})
    # Within one file stage_changes keeps only changes (`write_stage_changes`); rows of different
    # files can repeat the stage before them, which the insert then drops.
    several_files = con.execute(
        "select count(distinct batch_id) > 1 from stage_changes where source = ?", [source]
    ).fetchall()[0][0]
    con.execute(
        sql_statement("ingest/stage_events_insert"),
        {"source": source, "several_files": several_files},
    )
