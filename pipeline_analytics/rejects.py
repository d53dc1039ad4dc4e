"""`pipeline-analytics rejects`: the rows ingest refused, without Python or SQL.

A summary per file (batch) of how many rows were rejected, by column and kind of reason, and with
`--out FILE.csv` every rejected row with its file, line, column, reason and raw record. A reason's
kind is its text with the values taken out (`amount: cannot read '…' as a number`), so rows failing
the same way count together; `sql/mart_rejects.sql` groups the report's counts the same way.
The CSV goes through `spreadsheet.write_csv`, which neutralises cells a spreadsheet would run as
formulas (a raw line starting with `=`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline_analytics import spreadsheet
from pipeline_analytics.errors import InputError
from pipeline_analytics.sql_files import sql_statement


def show_rejects(
    con: duckdb.DuckDBPyConnection, *, batch_id: int | None = None, out: Path | None = None
) -> str:
    """The summary text to print; with `out`, every rejected row is written there as CSV first."""
    if batch_id is not None:
        _check_batch(con, batch_id)
    groups = con.execute(sql_statement("ops/rejects_summary"), {"batch_id": batch_id}).fetchall()
    where = f"batch {batch_id}" if batch_id is not None else "the warehouse"
    if not groups:
        return f"No rejected rows in {where}."
    lines = summary_lines(con, groups, batch_id)
    if out is None:
        option = f" --batch {batch_id}" if batch_id is not None else ""
        lines.append(
            "Every rejected row with its file, line, column, reason and raw record: "
            f"pipeline-analytics rejects{option} --out rejects.csv"
        )
    else:
        written = write_rejects_csv(con, out, batch_id)
        lines.append(f"{written} rejected row(s) written to {out}")
    return "\n".join(lines)


def summary_lines(
    con: duckdb.DuckDBPyConnection, groups: list[tuple], batch_id: int | None
) -> list[str]:
    """A heading, then per batch its file and one line per (column, reason kind)."""
    batches = con.execute(
        sql_statement("ops/loaded_batch_count"), {"batch_id": batch_id}
    ).fetchall()[0][0]
    total = sum(group[8] for group in groups)
    with_rejects = len({group[0] for group in groups})
    lines = [
        f"{total} rejected row(s) in {with_rejects} of {batches} loaded file(s); "
        "per file: rows, column, reason (values shown as …), first line"
    ]
    width = max(len(group[6]) for group in groups)
    current = None
    for batch, source, kind, path, read, rejected, column, reason, rows, first in groups:
        if batch != current:
            current = batch
            lines.append(
                f"batch {batch} ({source}, {kind}) {path}: {rejected} of {read} row(s) rejected"
            )
        lines.append(f"  {rows:>7}  {column:<{width}}  {reason} (line {first})")
    return lines


def write_rejects_csv(con: duckdb.DuckDBPyConnection, out: Path, batch_id: int | None) -> int:
    """Every rejected row (of one batch) as CSV, formula-like cells neutralised; the row count."""
    if not out.parent.is_dir():
        raise InputError(
            f"--out {out}: the folder {out.parent} does not exist; create it or choose another"
        )
    frame = con.sql(sql_statement("ops/rejected_rows"), params={"batch_id": batch_id}).pl()
    frame = frame.with_columns(pl.col("batch_id").cast(pl.Int64), pl.col("line").cast(pl.Int64))
    spreadsheet.write_csv(frame, out)
    return frame.height


def _check_batch(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    found = con.execute(
        "select count(*) from ingest_batches where batch_id = ?", [batch_id]
    ).fetchall()[0][0]
    if found:
        return
    with_rejects = [
        str(row[0])
        for row in con.execute(
            "select distinct batch_id from rejected_rows order by 1 limit 20"
        ).fetchall()
    ]
    listed = (
        f"batches with rejected rows: {', '.join(with_rejects)}"
        if with_rejects
        else "no batch has rejected rows"
    )
    raise InputError(
        f"--batch {batch_id}: the warehouse has no batch {batch_id} ({listed}); "
        "`pipeline-analytics rejects` without --batch names the batch of each file"
    )
