"""`status`: what is in the warehouse, read-only: batches loaded, row counts, the last runs."""

from __future__ import annotations

from pathlib import Path

import duckdb

CORE_TABLES = (
    "deals",
    "deal_stage_events",
    "deal_snapshots",
    "stage_changes",
    "rejected_rows",
    "forecast_runs",
)


def describe(con: duckdb.DuckDBPyConnection, db_path: Path) -> str:
    lines = [f"Warehouse: {db_path}"]
    batches = con.execute(
        """
        select source, object, count(*), sum(rows_loaded), sum(rows_rejected), max(snapshot_at)
        from ingest_batches where status = 'loaded'
        group by source, object order by source, object
        """
    ).fetchall()
    lines.append(
        "\nBatches loaded (source, object: files, rows loaded, rejected, latest snapshot):"
    )
    lines += [
        f"  {src}, {obj}: {n} file(s), {loaded:,} rows, {rejected:,} rejected, snapshot {snap}"
        for src, obj, n, loaded, rejected, snap in batches
    ] or ["  none yet"]
    lines.append("\nRows per table:")
    for table in CORE_TABLES:
        count = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        lines.append(f"  {table:<20} {count:>12,}")
    runs = con.execute(
        """
        select run_id, command, started_at, finished_at, status, error
        from runs order by run_id desc limit 5
        """
    ).fetchall()
    lines.append("\nLast runs:")
    lines += [
        f"  #{run_id} {command:<9} {status:<9} started {started:%Y-%m-%d %H:%M:%S}"
        + (f", finished {finished:%H:%M:%S}" if finished else "")
        + (f" -- {error}" if error else "")
        for run_id, command, started, finished, status, error in runs
    ] or ["  none yet"]
    return "\n".join(lines)
