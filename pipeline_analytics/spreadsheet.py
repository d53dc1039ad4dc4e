"""Files a spreadsheet opens: text that would run as a formula is written with a leading `'`.

The warehouse stores CRM text exactly as exported, so what analysts query matches the CRM; the
quote is added only where the package writes a spreadsheet-readable file (every CSV writer goes
through `write_csv`). Excel, LibreOffice and Sheets start a formula at a leading = + - @, and at a
tab or carriage return before one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """`text` as a spreadsheet shows it as text: a leading `'` when it would start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text column neutralised; numbers, dates and booleans stay as they are."""
    pattern = "^[" + "".join("\\" + c if c in "+-" else c for c in FORMULA_STARTS) + "]"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(pattern))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def write_csv(frame: pl.DataFrame, path: Path | None = None, **options: Any) -> str | None:
    """polars' `write_csv` of the neutralised frame: to `path`, or the text when path is None."""
    return neutralised(frame).write_csv(path, **options)
