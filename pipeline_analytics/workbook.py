"""`export-xlsx`: the marts and the latest base forecast as one Excel workbook, one sheet per table.

Cells keep their types: numbers as numbers, dates and timestamps as Excel dates, booleans as
booleans, NULL as an empty cell. Every text is written as text, never parsed: a deal named
`=HYPERLINK(...)` stays that text and never becomes a formula (xlsxwriter's `write()` would turn
a leading `=` into one, so each cell goes through the typed writer of its Python value). The first
sheet, `about`, lists every sheet with its table, rows and what was left out.

The file is written beside PATH and renamed over it, so a reader never opens half a workbook.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import table_exists

log = logging.getLogger(__name__)

# The latest base run's tables, one sheet each (before the marts).
FORECAST_TABLES = ("bookings", "periods", "deals", "cashflow", "targets")
EXCEL_MAX_ROWS = 1_048_576  # header included
SHEET_NAME_LENGTH = 31
# Integers beyond 2**53 lose digits as Excel numbers (doubles): written as text instead.
EXACT_INTEGER = 2**53
FETCH_ROWS = 10_000
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@dataclass(frozen=True)
class SheetSummary:
    """One sheet of the workbook, as the `about` sheet lists it."""

    sheet: str
    table: str
    rows: int
    note: str = ""


@dataclass(frozen=True)
class _Formats:
    date: Any
    datetime: Any
    header: Any


def write_workbook(con: duckdb.DuckDBPyConnection, path: Path) -> list[SheetSummary]:
    """Write the workbook to `path` atomically; return what each sheet holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    temp_path = Path(temp_name)
    try:
        summaries = _write(con, temp_path)
        temp_path.chmod(0o644)
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return summaries


def _write(con: duckdb.DuckDBPyConnection, path: Path) -> list[SheetSummary]:
    # constant_memory: rows go to disk as written (a mart may hold millions of deals); text is
    # then stored inline, which every reader understands.
    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    formats = _Formats(
        date=book.add_format({"num_format": DATE_FORMAT}),
        datetime=book.add_format({"num_format": DATETIME_FORMAT}),
        header=book.add_format({"bold": True}),
    )
    about = book.add_worksheet("about")
    summaries: list[SheetSummary] = []
    names: set[str] = {"about"}
    for table, query, params in _tables(con):
        sheet_name = _sheet_name(table, names)
        summaries.append(
            _write_sheet(book.add_worksheet(sheet_name), con, table, query, params, formats)
        )
    _write_about(about, summaries, _latest_base_run(con), formats)
    book.close()
    return summaries


def _latest_base_run(con: duckdb.DuckDBPyConnection) -> tuple[int, datetime] | None:
    if not table_exists(con, "forecast_runs"):
        return None
    rows = con.execute(sql_statement("notify/latest_base_runs")).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def _tables(
    con: duckdb.DuckDBPyConnection,
) -> Iterator[tuple[str, str, dict[str, object]]]:
    """(table, query, parameters) of each sheet: the latest base run's tables, then the marts."""
    latest = _latest_base_run(con)
    for name in FORECAST_TABLES:
        table = f"forecast_{name}"
        if latest is not None and table_exists(con, table):
            # the table name is one of FORECAST_TABLES, never user input
            query = f"select * from {table} where run_id = $run order by all"
            yield table, query, {"run": latest[0]}
    for (mart,) in con.execute(sql_statement("notify/workbook_marts")).fetchall():
        yield mart, f'select * from "{mart}"', {}


def _sheet_name(table: str, taken: set[str]) -> str:
    """The table's name, cut to Excel's 31 characters and made unique in the workbook."""
    name, n = table[:SHEET_NAME_LENGTH], 1
    while name.lower() in taken:
        n += 1
        suffix = f"~{n}"
        name = table[: SHEET_NAME_LENGTH - len(suffix)] + suffix
    taken.add(name.lower())
    return name


def _write_sheet(
    sheet: Worksheet,
    con: duckdb.DuckDBPyConnection,
    table: str,
    query: str,
    params: dict[str, object],
    formats: _Formats,
) -> SheetSummary:
    result = con.execute(query, params)
    columns = [d[0] for d in result.description]
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(columns):
        sheet.write_string(0, col, name, formats.header)
    row_number, total = 0, 0
    while chunk := result.fetchmany(FETCH_ROWS):
        for values in chunk:
            total += 1
            if row_number + 1 >= EXCEL_MAX_ROWS:
                continue  # counted, not written: the `about` sheet says how many are missing
            row_number += 1
            for col, value in enumerate(values):
                write_cell(sheet, row_number, col, value, formats)
    note = ""
    if total > row_number:
        note = (
            f"first {row_number:,} of {total:,} rows: an Excel sheet holds at most "
            f"{EXCEL_MAX_ROWS - 1:,}; query the warehouse for the rest"
        )
        log.warning("export-xlsx: %s: %s", table, note)
    return SheetSummary(sheet.get_name(), table, total, note)


def write_cell(sheet: Worksheet, row: int, col: int, value: object, formats: _Formats) -> None:
    """Write `value` with the writer of its type; text always as text, never as a formula."""
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int) and abs(value) < EXACT_INTEGER:
        sheet.write_number(row, col, value)
    elif isinstance(value, float | Decimal):
        number = float(value)
        if math.isfinite(number):  # NaN and infinity have no Excel number: left empty
            sheet.write_number(row, col, number)
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, formats.datetime)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats.date)
    else:
        sheet.write_string(row, col, str(value))


def _write_about(
    sheet: Worksheet,
    summaries: list[SheetSummary],
    latest: tuple[int, datetime] | None,
    formats: _Formats,
) -> None:
    sheet.freeze_panes(1, 0)
    for col, name in enumerate(("sheet", "table", "rows", "note")):
        sheet.write_string(0, col, name, formats.header)
    for row, s in enumerate(summaries, start=1):
        sheet.write_string(row, 0, s.sheet)
        sheet.write_string(row, 1, s.table)
        sheet.write_number(row, 2, s.rows)
        if s.note:
            sheet.write_string(row, 3, s.note)
    row = len(summaries) + 2
    if latest is None:
        sheet.write_string(row, 0, "No base forecast run is stored yet: no forecast_* sheets.")
    else:
        sheet.write_string(row, 0, f"forecast_* sheets: base forecast run #{latest[0]}, as of")
        sheet.write_datetime(row, 1, latest[1], formats.datetime)
