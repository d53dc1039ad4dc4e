"""Reading export files into DuckDB as all-text tables, keeping each row's line number.

DuckDB parses the files; Python only sniffs the encoding and separator from the raw bytes (one
streaming pass that also computes the file's sha256) and transcodes the rare non-UTF-8 file.
Structurally broken lines (too many or too few fields) are rejected with their line number instead
of failing the whole file.
"""

from __future__ import annotations

import codecs
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline_analytics.errors import InputError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITERS = (",", ";", "\t")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFingerprint:
    sha256: str
    encoding: str  # 'utf-8', 'utf-8-sig', 'utf-16' or 'cp1252'
    size: int


@dataclass(frozen=True)
class LoadedFile:
    """An export loaded into temp table `table` (all VARCHAR) with a `_row` line number column."""

    table: str
    headers: list[str]
    rows_read: int
    structural_rejects: list[tuple[int, str, str]]  # (line, reason, raw line)


def fingerprint(path: Path) -> FileFingerprint:
    """sha256 and text encoding of a file, in one streaming pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_ok, size, head = True, 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if not head:
                head = chunk[:4]
            digest.update(chunk)
            size += len(chunk)
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
    if utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8" if utf8_ok else "cp1252"
    return FileFingerprint(digest.hexdigest(), encoding, size)


def load_file(
    con: duckdb.DuckDBPyConnection, path: Path, fp: FileFingerprint, table: str, temp_dir: Path
) -> LoadedFile:
    """Load any supported export into temp table `table`; raise InputError for unreadable files."""
    suffix = path.suffix.lower()
    if fp.size == 0:
        raise InputError(f"{path}: the file is empty; export it again with a header row and data")
    if suffix in EXCEL_SUFFIXES:
        return _load_excel(con, path, table)
    if suffix in PARQUET_SUFFIXES:
        return _load_parquet(con, path, table)
    return _load_text(con, path, fp, table, temp_dir)


def _load_text(
    con: duckdb.DuckDBPyConnection, path: Path, fp: FileFingerprint, table: str, temp_dir: Path
) -> LoadedFile:
    with path.open("rb") as fh:
        sample = fh.read(64 * 1024)
    if b"\x00" in sample and fp.encoding != "utf-16":
        raise InputError(
            f"{path}: this is not a text export (binary content); export the data as CSV or XLSX"
        )
    readable = path
    if fp.encoding in ("utf-16", "cp1252"):
        readable = _transcode_to_utf8(path, fp.encoding, temp_dir)
    header_line = sample.decode(fp.encoding, errors="replace").lstrip("\ufeff").splitlines()
    delimiter = _detect_delimiter(header_line[0] if header_line else "")
    rejects_table, rejects_scan = f"{table}_rejects", f"{table}_scans"
    try:
        con.execute(
            f"""
            create or replace temp table {table} as
            select *, row_number() over () + 1 as _row  -- line 1 is the header
            from read_csv(?, delim = ?, header = true, all_varchar = true, quote = '"',
                          escape = '"', null_padding = false, store_rejects = true,
                          rejects_table = '{rejects_table}', rejects_scan = '{rejects_scan}',
                          max_line_size = 20000000)
            """,
            [str(readable), delimiter],
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as a delimited text file ({first})") from exc
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)
    headers = [c for c in _columns(con, table) if c != "_row"]
    rejects = [
        (int(line), f"{error_type.lower()}: {message}", raw or "")
        for line, error_type, message, raw in con.execute(
            f"""
            select line, min(error_type), min(error_message), min(csv_line)
            from {rejects_table} group by line order by line
            """
        ).fetchall()
    ]
    con.execute(f"drop table if exists {rejects_table}")
    con.execute(f"drop table if exists {rejects_scan}")
    if rejects:
        _renumber_rows(con, table, [line for line, _, _ in rejects])
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return LoadedFile(table, headers, rows + len(rejects), rejects)


def _renumber_rows(con: duckdb.DuckDBPyConnection, table: str, rejected_lines: list[int]) -> None:
    """Give good rows their real line numbers: the k-th good row is on the k-th unrejected line."""
    good = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    last = good + len(rejected_lines) + 1
    con.execute(
        f"""
        update {table} set _row = lines.line
        from (
            select line, row_number() over (order by line) as k
            from range(2, ? + 1) as r(line)
            where line not in (select unnest(?::bigint[]))
        ) as lines
        where {table}._row - 1 = lines.k
        """,
        [last, rejected_lines],
    )


def _load_excel(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> LoadedFile:
    import fastexcel  # imported lazily: only XLSX users pay for it

    try:
        reader = fastexcel.read_excel(str(path))
        sheet = reader.load_sheet(0, dtypes="string")
        arrow_table = sheet.to_arrow()
    except Exception as exc:  # fastexcel raises its own error types for corrupt workbooks
        raise InputError(f"{path}: cannot be read as an Excel workbook ({exc})") from exc
    con.register(f"{table}_arrow", arrow_table)
    try:
        _create_text_table(con, f"{table}_arrow", table, first_row=2)
    finally:
        con.unregister(f"{table}_arrow")
    headers = [c for c in _columns(con, table) if c != "_row"]
    return LoadedFile(table, headers, arrow_table.num_rows, [])


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> LoadedFile:
    relation = "read_parquet('" + str(path).replace("'", "''") + "')"
    try:
        _create_text_table(con, relation, table, first_row=1)
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot be read as Parquet ({exc})") from exc
    headers = [c for c in _columns(con, table) if c != "_row"]
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return LoadedFile(table, headers, rows, [])


def _create_text_table(
    con: duckdb.DuckDBPyConnection, relation: str, table: str, first_row: int
) -> None:
    """Copy a typed relation into an all-VARCHAR temp table, numbering rows from first_row."""
    quoted = ['"' + c.replace('"', '""') + '"' for c in _columns(con, relation)]
    casts = ", ".join(f"cast({q} as varchar) as {q}" for q in quoted)
    con.execute(
        f"create or replace temp table {table} as "
        f"select {casts}, row_number() over () + {first_row - 1} as _row from {relation}"
    )


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [d[0] for d in con.execute(f"select * from {relation} limit 0").description]


def _detect_delimiter(header: str) -> str:
    """The candidate separator that splits the header line most often, ignoring quoted text."""
    counts = dict.fromkeys(DELIMITERS, 0)
    in_quotes = False
    for ch in header:
        if ch == '"':
            in_quotes = not in_quotes
        elif not in_quotes and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _transcode_to_utf8(path: Path, encoding: str, temp_dir: Path) -> Path:
    temp_dir.mkdir(parents=True, exist_ok=True)
    with (
        path.open("r", encoding=encoding, newline="") as src,
        tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", newline="", suffix=".csv", dir=temp_dir, delete=False
        ) as dst,
    ):
        while chunk := src.read(_CHUNK):
            dst.write(chunk.lstrip("\ufeff") if dst.tell() == 0 else chunk)
    return Path(dst.name)
