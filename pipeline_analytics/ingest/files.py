"""Reading export files into DuckDB as all-text tables, keeping each row's line number.

DuckDB parses the files; Python only sniffs the encoding, separator and line endings from the raw
bytes (one streaming pass that also computes the file's sha256), reads the header line, and
rewrites the rare file DuckDB cannot read as it is (not UTF-8, or mixed line endings) as UTF-8 with
LF line endings. Structurally broken lines (too many or too few fields, a quote left open by a
truncated last line, bytes that are not UTF-8 in a UTF-8 file) are rejected with their line number
instead of failing the whole file. Line numbers are physical lines, as an editor shows them.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline_analytics.errors import InputError
from pipeline_analytics.sql_files import sql_statement

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
DELIMITERS = (",", ";", "\t")
_CHUNK = 1 << 20
_SAMPLE = 64 * 1024
_MAX_HEADER = 20_000_000  # bytes; DuckDB's max_line_size below
# Names the loaded view adds or relies on; a file's column of that name is read under another.
RESERVED_NAMES = {"_row"}
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_HIGH_BYTE_RUNS = re.compile(rb"[\x80-\xff]+")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # an undecodable byte under 'surrogateescape'
ENCODING_FIX = (
    'set encoding = "<the export\'s encoding>" for this source in the config '
    '(e.g. "gbk", "shift_jis", "cp1251", "latin-1") or export the file as UTF-8'
)


@dataclass(frozen=True)
class FileFingerprint:
    sha256: str
    encoding: str | None  # a codec name, or None when it cannot be decided (see `problem`)
    size: int
    newlines: int = 0  # LF bytes, to tell whether records and physical lines differ
    trailing_blank_lines: int = 0  # blank lines at the end: they shift no record's line
    ends_with_newline: bool = True
    mixed_line_endings: bool = False  # CRLF with bare LF or CR: rewritten with LF before reading
    invalid_utf8: int = 0  # undecodable bytes of a file read as UTF-8: their lines are rejected
    problem: str = ""  # why the encoding cannot be decided, with the fix


@dataclass(frozen=True)
class LoadedFile:
    """An export loaded as temp view `table` (all VARCHAR) with a `_row` line number column.

    The view reads temp table `<table>_lines`, the file's rows in file order; drop both with
    `drop_loaded`.
    """

    table: str
    headers: list[str]
    rows_read: int
    structural_rejects: list[tuple[int, str, str]]  # (line, reason, raw line)
    delimiter: str | None = None  # None for spreadsheets, Parquet and JSON
    # Lines that are not data (report footers): counted as excluded, not rejected.
    excluded_lines: list[tuple[int, str]] = field(default_factory=list)


class _ByteScan:
    """What one streaming pass over a file's bytes tells about its encoding and line endings.

    A clean UTF-8 file costs one strict decode per chunk plus three byte counts; the statistics
    that tell UTF-8 with a few bad bytes from cp1252 or another legacy encoding are only gathered
    from the first undecodable byte on.
    """

    def __init__(self) -> None:
        self.offset = 0  # file offset of `pending`
        self.pending = b""
        self.first_bad: int | None = None  # offset of the first byte that is not UTF-8
        self.first_bad_byte = 0
        self.invalid = 0  # undecodable bytes
        self.multibyte = 0  # bytes of valid multi-byte UTF-8 characters beyond their first
        self.cp1252_undefined: int | None = None  # offset of a byte cp1252 does not define
        self.cp1252_undefined_byte = 0
        self.high_bytes = 0  # bytes >= 0x80 and their runs, from the first undecodable chunk on
        self.high_runs = 0
        self.newlines = self.carriage_returns = self.crlf = 0
        self.last_byte = b""
        self.tail = b""  # the file's last bytes, for blank lines at its end

    def feed(self, chunk: bytes) -> None:
        self.newlines += chunk.count(b"\n")
        if b"\r" in chunk or self.last_byte == b"\r":
            self.carriage_returns += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n") + (self.last_byte == b"\r" and chunk[:1] == b"\n")
        self.last_byte = chunk[-1:]
        self.tail = (self.tail + chunk)[-256:] if len(chunk) < 256 else chunk[-256:]
        buf = self.pending + chunk if self.pending else chunk
        if self.first_bad is None:
            try:
                text, used = codecs.utf_8_decode(buf, "strict", False)
            except UnicodeDecodeError as exc:
                self.first_bad, self.first_bad_byte = self.offset + exc.start, buf[exc.start]
        if self.first_bad is not None:
            text, used = codecs.utf_8_decode(buf, "surrogateescape", False)
            self._legacy_statistics(buf[:used], text)
        self.multibyte += used - len(text)
        self.pending, self.offset = buf[used:], self.offset + used

    def finish(self) -> None:
        if not self.pending:
            return
        if self.first_bad is None:
            self.first_bad, self.first_bad_byte = self.offset, self.pending[0]
        text, _ = codecs.utf_8_decode(self.pending, "surrogateescape", True)
        self._legacy_statistics(self.pending, text)
        self.pending = b""

    def _legacy_statistics(self, data: bytes, text: str) -> None:
        self.invalid += len(_ESCAPED_BYTE.findall(text))
        if self.cp1252_undefined is None and (found := _CP1252_UNDEFINED.search(data)):
            self.cp1252_undefined = self.offset + found.start()
            self.cp1252_undefined_byte = data[found.start()]
        self.high_bytes += len(data) - len(data.translate(None, _HIGH_BYTES))
        self.high_runs += len(_HIGH_BYTE_RUNS.findall(data))


def fingerprint(path: Path, encoding: str | None = None) -> FileFingerprint:
    """sha256, text encoding and line endings of a file, in one streaming pass.

    `encoding` (the source's setting) overrides the detection. See `_decide_encoding`.
    """
    digest = hashlib.sha256()
    scan = _ByteScan()
    size, head = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if not head:
                head = chunk[:_SAMPLE]
            digest.update(chunk)
            size += len(chunk)
            scan.feed(chunk)
    scan.finish()
    decided, problem = (encoding, "") if encoding else _decide_encoding(scan, head)
    mixed = scan.carriage_returns > 0 and not (scan.carriage_returns == scan.crlf == scan.newlines)
    return FileFingerprint(
        digest.hexdigest(),
        decided,
        size,
        newlines=scan.newlines,
        ends_with_newline=scan.last_byte == b"\n",
        trailing_blank_lines=max(scan.tail[len(scan.tail.rstrip(b"\r\n")) :].count(b"\n") - 1, 0),
        mixed_line_endings=mixed,
        invalid_utf8=scan.invalid if decided in ("utf-8", "utf-8-sig") else 0,
        problem=problem,
    )


def _decide_encoding(scan: _ByteScan, head: bytes) -> tuple[str | None, str]:
    """The file's encoding from all its bytes, or None and why not.

    A BOM decides. Without one: NUL bytes at every other position of the first 64 KB are UTF-16.
    A file that decodes as UTF-8 is UTF-8; so is one whose valid multi-byte characters are at
    least as many as its undecodable bytes (those lines are rejected). Otherwise it is cp1252 if
    every byte is defined there and bytes above 0x7F stand mostly alone, as accents in Western
    text do (runs of them are Chinese, Japanese, Cyrillic, ... text): anything else is undecided.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", ""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", ""
    if (utf16 := _utf16_without_bom(head)) is not None:
        return utf16, ""
    if scan.invalid == 0 or scan.multibyte >= scan.invalid:
        return "utf-8", ""
    if scan.cp1252_undefined is None and scan.high_bytes <= 1.5 * scan.high_runs:
        return "cp1252", ""
    if scan.cp1252_undefined is not None:
        where = (
            f"byte 0x{scan.cp1252_undefined_byte:02X} at offset {scan.cp1252_undefined} is "
            "neither UTF-8 nor cp1252"
        )
    else:
        where = (
            f"byte 0x{scan.first_bad_byte:02X} at offset {scan.first_bad} is not UTF-8, and the "
            "bytes above 0x7F come in runs, so the text is not cp1252 (Western) either"
        )
    return None, f"cannot tell the text encoding: {where}; {ENCODING_FIX}"


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when NUL bytes fill one byte position of mostly-ASCII text."""
    if b"\x00" not in head or len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.02:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.02:
        return "utf-16-be"
    return None


def peek_headers(path: Path, fp: FileFingerprint, sheet: str | None = None) -> list[str]:
    """The column headers of an export without loading it (to recognise what the file holds)."""
    _check_not_empty(path, fp)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        columns = _excel_sheet(path, sheet, n_rows=0).to_arrow().column_names
        return _unique_names([str(c) for c in columns])
    if suffix in PARQUET_SUFFIXES or suffix in JSON_SUFFIXES:
        con = duckdb.connect()
        try:
            if suffix in JSON_SUFFIXES:
                return _create_json_table(con, path, "peek")
            return _unique_names(_columns(con, _parquet_relation(path)))
        finally:
            con.close()
    return _text_header(path, fp)[0]


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fp: FileFingerprint,
    table: str,
    temp_dir: Path,
    sheet: str | None = None,
) -> LoadedFile:
    """Load any supported export as temp view `table` (see LoadedFile); InputError if unreadable."""
    _check_not_empty(path, fp)
    # Line numbers are the loaded table's rowid: the load must keep the file's order.
    con.execute("set preserve_insertion_order = true")
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return _load_excel(con, path, table, sheet)
    if suffix in PARQUET_SUFFIXES:
        return _load_parquet(con, path, table)
    if suffix in JSON_SUFFIXES:
        return _load_json(con, path, table)
    return _load_text(con, path, fp, table, temp_dir)


def load_rows(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fp: FileFingerprint,
    table: str,
    temp_dir: Path,
    sheet: str | None = None,
) -> LoadedFile:
    """`load_file` for an export whose rows are the point (deals, history, activities, leads):
    a header without data rows is an InputError."""
    loaded = load_file(con, path, fp, table, temp_dir, sheet)
    if loaded.rows_read == 0:
        raise InputError(f"{path}: the file has a header but no data rows; export it again")
    return loaded


def drop_loaded(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop what `load_file` created for `table`."""
    con.execute(f"drop view if exists {table}")
    con.execute(f"drop table if exists {_lines(table)}")


def _lines(table: str) -> str:
    return f"{table}_lines"


def _stored(i: int) -> str:
    """The stored name of a file's i-th column: positional, so no header can collide with rowid
    or differ from another only in case (DuckDB's names are case-insensitive)."""
    return f"c{i}"


def _number_lines(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], first_line: int | None
) -> None:
    """View `table`: the file's columns under their names, and the line number `_row`.

    A table created from one ordered scan keeps the scan's order in its rowid, so the line number
    is computed when read instead of with a `row_number()` pass over the whole file; with
    `first_line` None the stored table carries its `_row` already.
    """
    columns = ", ".join(f"{_stored(i)} as {_quote(n)}" for i, n in enumerate(names))
    row = "_row"
    if first_line is not None:
        # Counted from the table's first rowid: inside an open transaction (a reload) DuckDB
        # numbers a new table's rows from a large offset, not from 0.
        first_rowid = con.execute(f"select min(rowid) from {_lines(table)}").fetchall()[0][0]
        row = f"rowid - {first_rowid or 0} + {first_line} as _row"
    con.execute(
        f"create or replace temp view {table} as select {columns}, {row} from {_lines(table)}"
    )


def _check_not_empty(path: Path, fp: FileFingerprint) -> None:
    if fp.size == 0:
        raise InputError(f"{path}: the file is empty; export it again with a header row and data")


def _text_header(path: Path, fp: FileFingerprint) -> tuple[list[str], str]:
    """Header names and separator of a delimited text file, from its first record."""
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE)
        # A header longer than the sample (thousands of columns) is read to its end.
        while b"\n" not in sample and len(sample) < _MAX_HEADER and (more := fh.read(len(sample))):
            sample += more
    is_utf16 = (fp.encoding or "").replace("_", "-").lower().startswith("utf-16")
    if b"\x00" in sample[:_SAMPLE] and not is_utf16:
        raise InputError(
            f"{path}: this is not a text export (binary content); export the data as CSV or XLSX"
        )
    if fp.encoding is None:
        raise InputError(f"{path}: {fp.problem}")
    text = sample.decode(fp.encoding, errors="replace").lstrip("\ufeff")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise InputError(f"{path}: the first line is blank; the header row must come first")
    delimiter = _detect_delimiter(first_line)
    names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"'))
    return _unique_names(names), delimiter


def _unique_names(names: list[str]) -> list[str]:
    """Every column named, and named once: blank headers get a position name; a header repeated
    (ignoring case, as DuckDB does) or named like an internal column gets the first free suffix
    `_1`, `_2`, ... that no other header has."""
    taken = {n.strip().casefold() for n in names} | RESERVED_NAMES
    seen: set[str] = set(RESERVED_NAMES)
    unique = []
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column{i}"
        if name.casefold() in seen:
            k = 1
            while f"{name}_{k}".casefold() in taken:
                k += 1
            name = f"{name}_{k}"
            taken.add(name.casefold())
        seen.add(name.casefold())
        unique.append(name)
    return unique


def _renamed_headers(path: Path, raw: list[str], names: list[str]) -> None:
    renamed = [
        f"column {i} '{r.strip()}' as '{n}'"
        for i, (r, n) in enumerate(zip(raw, names, strict=True), start=1)
        if r.strip() and r.strip() != n
    ]
    if renamed:
        log.warning(
            "%s: repeated or reserved header names (compared ignoring case) are read under new "
            "names: %s; map the column under its new name if you need it",
            path,
            ", ".join(renamed),
        )


def _load_text(
    con: duckdb.DuckDBPyConnection, path: Path, fp: FileFingerprint, table: str, temp_dir: Path
) -> LoadedFile:
    headers, delimiter = _text_header(path, fp)
    lines_in_file = fp.newlines + (not fp.ends_with_newline) - fp.trailing_blank_lines
    readable = path
    if fp.encoding not in ("utf-8", "utf-8-sig") or fp.mixed_line_endings:
        readable, lines_in_file = _rewrite_as_utf8_lf(path, fp, temp_dir)
    try:
        return _read_text(con, path, readable, lines_in_file, headers, delimiter, table)
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)


def _read_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    readable: Path,
    lines_in_file: int,
    headers: list[str],
    delimiter: str,
    table: str,
) -> LoadedFile:
    # The header is parsed above, so DuckDB's sniffer is off: a truncated last line then becomes
    # one rejected line instead of an unreadable file.
    columns = {_stored(i): "VARCHAR" for i in range(len(headers))}
    try:
        con.execute(
            sql_statement("ingest/files_read_csv"),
            {"path": str(readable), "delimiter": delimiter, "columns": columns},
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as a delimited text file ({first})") from exc
    con.execute(f"drop table if exists {_lines(table)}")
    con.execute(f"alter table csv_lines rename to {_lines(table)}")
    rejects = [
        (int(line), _reject_reason(error_type, message, len(headers)), (raw or "").strip("\r\n"))
        for line, error_type, message, raw in con.execute(
            sql_statement("ingest/files_csv_rejects")
        ).fetchall()
    ]
    con.execute("drop table if exists csv_rejects")
    con.execute("drop table if exists csv_reject_scans")
    good = con.execute(f"select count(*) from {_lines(table)}").fetchall()[0][0]
    if lines_in_file == 1 + good + len(rejects):
        # One physical line per record: the reader's line numbers are the editor's.
        if rejects:
            _number_lines_around_rejects(con, table, headers, good, [r[0] for r in rejects])
        else:
            _number_lines(con, table, headers, first_line=2)  # line 1 is the header
    else:
        # Quoted line breaks or blank lines: map records to physical lines from the bytes.
        starts, blank = _record_starts(readable)
        physical = [int(starts[line - 1]) for line, _, _ in rejects]
        rejects = [(p, r, raw) for p, (_, r, raw) in zip(physical, rejects, strict=True)]
        candidates = starts[1:][~blank[1:]]
        good_lines = _without(candidates, physical)
        if len(good_lines) != good:
            raise InputError(
                f"{path}: cannot match the file's {good} rows to its lines (quoted line breaks?); "
                "export it again as CSV"
            )
        _number_lines_at(con, table, headers, good_lines)
    return LoadedFile(table, headers, good + len(rejects), rejects, delimiter)


def _reject_reason(error_type: str, message: str, columns: int) -> str:
    """Our reason for a line DuckDB's reader rejected, from its error type (a fixed set).

    DuckDB's own message is kept only for a type not listed here, in parentheses. No apostrophes:
    mart_rejects reads '...' in a reason as a quoted value.
    """
    kind = error_type.upper()
    if kind == "INVALID ENCODING":
        # The rest of the file is UTF-8 (see _decide_encoding): only this line is lost.
        return (
            "invalid encoding: the line is not valid UTF-8 (a byte of another encoding or a "
            "damaged character); fix the value in the CRM or export the file again"
        )
    if kind == "UNQUOTED VALUE":
        return (
            'unclosed quote: a value opens a quote (") the line does not close, or has text after '
            "its closing quote (a line cut short?); fix the quotes or export the file again"
        )
    if kind == "MISSING COLUMNS":
        return (
            f"too few values: fewer than the {columns} columns of the header (another separator, "
            "or a line cut short?); fix the line or export the file again"
        )
    if kind == "TOO MANY COLUMNS":
        return (
            f"too many values: more than the {columns} columns of the header (a separator inside "
            "a value without quotes?); quote that value or export the file again"
        )
    if kind == "LINE SIZE OVER MAXIMUM":
        return (
            "line too long: over 20 MB, longer than any real record; fix the line or export the "
            "file again"
        )
    return f"unreadable line ({kind.lower()}: {message}); fix the line or export the file again"


def _without(lines: np.ndarray, rejected: list[int]) -> np.ndarray:
    """Sorted `lines` minus the rejected ones (a binary search each: rejects are few)."""
    import numpy as np  # imported lazily: the CLI starts without it

    keep = np.ones(len(lines), dtype=bool)
    if rejected:
        at = np.searchsorted(lines, np.asarray(rejected, dtype=np.int64))
        found = at < len(lines)
        found[found] = lines[at[found]] == np.asarray(rejected, dtype=np.int64)[found]
        keep[at[found]] = False
    return lines[keep]


def _record_starts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The physical line (1-based) of every line the CSV reader counts, and whether it is blank.

    The reader counts each line that does not continue a quoted value (blank ones too); a line
    continues a quoted value when an odd number of quote characters precedes it (an escaped
    quote is two, so the parity holds). Vectorised over 16 MB blocks: no Python loop over lines.
    """
    import numpy as np  # imported lazily: the CLI starts without it

    data = np.memmap(path, dtype=np.uint8, mode="r")
    newline_at, quotes_before, quotes = [], [], 0
    step = 1 << 24
    for start in range(0, len(data), step):
        block = data[start : start + step]
        newlines = np.flatnonzero(block == 0x0A)
        quote_positions = np.flatnonzero(block == 0x22)
        newline_at.append(newlines + start)
        quotes_before.append(quotes + np.searchsorted(quote_positions, newlines))
        quotes += len(quote_positions)
    ends = np.concatenate(newline_at) if newline_at else np.zeros(0, dtype=np.int64)
    before = np.concatenate(quotes_before) if quotes_before else np.zeros(0, dtype=np.int64)
    if len(data) and data[-1] != 0x0A:
        ends = np.append(ends, len(data))
    line_starts = np.concatenate(([0], ends[:-1] + 1))
    continues = np.concatenate(([0], before[: len(ends) - 1])) % 2 == 1
    length = ends - line_starts
    first_byte = data[np.minimum(line_starts, len(data) - 1)]
    blank = (length == 0) | ((length == 1) & (first_byte == 0x0D))
    numbers = np.arange(1, len(ends) + 1, dtype=np.int64)
    del data
    return numbers[~continues], blank[~continues]


def _number_lines_at(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], good_lines: np.ndarray
) -> None:
    """View `table` with the k-th stored row on the k-th of `good_lines`."""
    import pyarrow as pa  # with DuckDB's Arrow scan: no Python loop over the rows

    con.register("good_lines", pa.table({"line": pa.array(good_lines, pa.int64())}))
    try:
        _pair_rows_with_lines(con, table, names)
    finally:
        con.unregister("good_lines")


def _number_lines_around_rejects(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], good: int, rejected: list[int]
) -> None:
    """One line per record: the k-th stored row is on the k-th line from 2 that is not rejected."""
    last = 1 + good + len(rejected)
    con.execute(
        sql_statement("ingest/files_good_lines_around_rejects"),
        {"last_line": last, "rejected": [int(line) for line in rejected]},
    )
    try:
        _pair_rows_with_lines(con, table, names)
    finally:
        con.execute("drop table good_lines")


def _pair_rows_with_lines(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    """The stored rows of `table` paired with the lines of relation `good_lines`, in order."""
    lines = _lines(table)
    # Both sides are in file order: a positional join pairs them without sorting the rows.
    paired = f"select l.*, good.line as _row from {lines} as l positional join good_lines as good"
    con.execute(f"create or replace temp table {lines} as {paired}")
    _number_lines(con, table, names, first_line=None)


def _excel_sheet(path: Path, sheet: str | None, n_rows: int | None = None):  # noqa: ANN202
    import fastexcel  # imported lazily: only XLSX users pay for it

    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # fastexcel raises its own error types for corrupt workbooks
        raise InputError(f"{path}: cannot be read as an Excel workbook ({exc})") from exc
    if sheet is not None and sheet not in reader.sheet_names:
        raise InputError(
            f"{path}: no sheet named '{sheet}'; sheets in the workbook: "
            f"{', '.join(repr(s) for s in reader.sheet_names)}; fix `sheet` in the config"
        )
    try:
        return reader.load_sheet(sheet if sheet is not None else 0, dtypes="string", n_rows=n_rows)
    except Exception as exc:
        raise InputError(f"{path}: cannot read sheet '{sheet or 1}' ({exc})") from exc


def _load_excel(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, sheet: str | None
) -> LoadedFile:
    arrow_table = _excel_sheet(path, sheet).to_arrow()
    con.register(f"{table}_arrow", arrow_table)
    try:
        headers = _create_text_table(con, f"{table}_arrow", table, first_line=2)
    finally:
        con.unregister(f"{table}_arrow")
    _warn_uncomputed_formulas(path, sheet, headers)
    return LoadedFile(table, headers, arrow_table.num_rows, [])


def _parquet_relation(path: Path) -> str:
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> LoadedFile:
    try:
        headers = _create_text_table(con, _parquet_relation(path), table, first_line=1)
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot be read as Parquet ({exc})") from exc
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return LoadedFile(table, headers, rows, [])


def _load_json(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> LoadedFile:
    headers = _create_json_table(con, path, table)
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return LoadedFile(table, headers, rows, [])


def _create_json_table(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[str]:
    """JSON records (an array, one object per line, or an API response `{"data": [...]}`) as text.

    API responses wrap each record (`{"object": ..., "data": {...}}`); nested objects are
    flattened to their leaf fields, so `additional_data.new_value_formatted` becomes a column.
    Records are numbered from 1 in file order.
    """
    stage = f"{table}_json"
    try:
        con.execute(
            f"create or replace temp table {stage} as select * from read_json(?, format = 'auto')",
            [str(path)],
        )
        for _ in range(3):  # unwrap at most: response -> records -> record payload
            types = dict(
                con.execute(f"select column_name, column_type from (describe {stage})").fetchall()
            )
            if types.get("data", "").endswith("[]"):
                records = f"select unnest(data) as data from {stage}"
                con.execute(f"create or replace temp table {stage} as {records}")
            elif types.get("data", "").startswith("STRUCT"):
                con.execute(f"create or replace temp table {stage} as select data.* from {stage}")
            else:
                break
        _flatten_structs(con, stage)
        return _create_text_table(con, stage, table, first_line=1)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as JSON records ({first})") from exc
    finally:
        con.execute(f"drop table if exists {stage}")


def _flatten_structs(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Replace each STRUCT column by its leaf fields, named `parent.child`."""
    while True:
        described = con.execute(
            f"select column_name, column_type from (describe {table})"
        ).fetchall()
        structs = {name for name, kind in described if kind.startswith("STRUCT")}
        if not structs:
            return
        parts = []
        for name, _ in described:
            quoted = _quote(name)
            if name not in structs:
                parts.append(quoted)
                continue
            children = [
                d[0] for d in con.execute(f"select {quoted}.* from {table} limit 0").description
            ]
            parts.extend(
                f"{quoted}.{_quote(child)} as {_quote(name + '.' + child)}" for child in children
            )
        con.execute(
            f"create or replace temp table {table} as select {', '.join(parts)} from {table}"
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_text_table(
    con: duckdb.DuckDBPyConnection, relation: str, table: str, first_line: int
) -> list[str]:
    """Copy a typed relation into all-VARCHAR view `table`, numbering rows from first_line;
    returns the column names the view shows."""
    source = _columns(con, relation)
    casts = ", ".join(f"cast({_quote(c)} as varchar) as {_stored(i)}" for i, c in enumerate(source))
    con.execute(f"create or replace temp table {_lines(table)} as select {casts} from {relation}")
    names = _unique_names(source)
    _number_lines(con, table, names, first_line)
    return names


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


def _rewrite_as_utf8_lf(path: Path, fp: FileFingerprint, temp_dir: Path) -> tuple[Path, int]:
    """A UTF-8 copy with LF line endings (CRLF and bare CR become LF) and its number of lines.

    For files DuckDB cannot read as they are: another encoding, or mixed line endings (its strict
    parser fails the whole file on one LF line in a CRLF file). The copy is removed on any failure.
    """
    encoding = fp.encoding or "utf-8"
    temp_dir.mkdir(parents=True, exist_ok=True)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines, last, held, offset = 0, "\n", "", 0
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", suffix=".csv", dir=temp_dir, delete=False
    ) as dst:
        copy = Path(dst.name)
        try:
            with path.open("rb") as src:
                while True:
                    chunk = src.read(_CHUNK)
                    try:
                        text = held + decoder.decode(chunk, final=not chunk)
                    except UnicodeDecodeError as exc:
                        at = offset + max(exc.start - len(decoder.getstate()[0]), 0)
                        raise InputError(
                            f"{path}: byte 0x{exc.object[exc.start]:02X} at offset {at} is not "
                            f"{encoding}; {ENCODING_FIX}"
                        ) from None
                    offset += len(chunk)
                    if offset == len(chunk):
                        text = text.lstrip("\ufeff")
                    # A CR at the end of a chunk may be the first half of a CRLF.
                    held = "\r" if chunk and text.endswith("\r") else ""
                    text = text[:-1] if held else text
                    text = text.replace("\r\n", "\n").replace("\r", "\n")
                    newlines += text.count("\n")
                    last = text[-1:] or last
                    dst.write(text)
                    if not chunk:
                        break
        except BaseException:
            dst.close()
            copy.unlink(missing_ok=True)
            raise
    return copy, newlines + (last != "\n")


def _warn_uncomputed_formulas(path: Path, sheet: str | None, headers: list[str]) -> None:
    """Name the formula cells a workbook stores without a computed value (they read as empty).

    A workbook written by a program rather than saved by Excel can hold formulas without their
    results; the reader sees those cells as empty, so say which they are.
    """
    cells = uncomputed_formula_cells(path, sheet)
    if not cells:
        return
    named = [
        f"{ref} ({headers[col] if col < len(headers) else 'no header'})" for ref, col in cells[:20]
    ]
    more = f" and {len(cells) - 20} more" if len(cells) > 20 else ""
    log.warning(
        "%s: %d formula cell(s) have no computed value and read as empty: %s%s; open the workbook "
        "in Excel and save it (or export CSV) to store the values",
        path,
        len(cells),
        ", ".join(named),
        more,
    )


_FORMULA_CELL = re.compile(
    rb'<c r="([A-Z]+)(\d+)"[^>]*?(?<!/)>(?:(?!</c>).)*?<f[\s>/](?:(?!</c>).)*?</c>', re.DOTALL
)
_CACHED_VALUE = re.compile(rb"<v>[^<]+</v>|<is>")


def uncomputed_formula_cells(path: Path, sheet: str | None) -> list[tuple[str, int]]:
    """(cell reference, 0-based column) of formula cells without a cached value in the sheet."""
    import xml.etree.ElementTree as ET
    import zipfile

    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "p": "http://schemas.openxmlformats.org/package/2006/relationships",
    }
    try:
        with zipfile.ZipFile(path) as book:
            workbook = ET.fromstring(book.read("xl/workbook.xml"))
            sheets = workbook.findall("m:sheets/m:sheet", ns)
            chosen = next((s for s in sheets if s.get("name") == sheet), None) if sheet else None
            chosen = chosen if chosen is not None else sheets[0]
            rel_id = chosen.get(f"{{{ns['r']}}}id")
            rels = ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))
            target = next(
                r.get("Target") for r in rels.findall("p:Relationship", ns) if r.get("Id") == rel_id
            )
            name = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            xml = book.read(name)
    except (KeyError, StopIteration, IndexError, zipfile.BadZipFile, ET.ParseError):
        return []  # not a standard workbook layout: fastexcel has read it already
    if b"<f" not in xml:
        return []
    cells = []
    for match in _FORMULA_CELL.finditer(xml):
        if not _CACHED_VALUE.search(match.group(0)):
            letters = match.group(1).decode()
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            cells.append((f"{letters}{match.group(2).decode()}", col - 1))
    return cells


def create_reading_view(
    con: duckdb.DuckDBPyConnection, view: str, relation: str, *layers: dict[str, str]
) -> None:
    """Temp view `view`: `_row` and the named SQL expressions of `layers` over `relation`.

    How a file is read (which header gives a field, the locale that types it, the checks) differs
    from file to file; what is done with the values does not. So Python names the reading here,
    and the statements in sql/ingest/ that build the staging tables from `view` stay fixed. Each
    layer may use the names of the layers before it (text, then typed values, then checks).
    """
    first, *more = layers
    query = f"select _row, {_named(first)} from {relation}"
    for layer in more:
        query = f"select *, {_named(layer)} from ({query})"
    con.execute(f"create or replace temp view {_quote(view)} as {query}")


def _named(layer: dict[str, str]) -> str:
    return ", ".join(f"{expr} as {_quote(name)}" for name, expr in layer.items())
