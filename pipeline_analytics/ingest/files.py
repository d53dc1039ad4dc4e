"""Reading export files into DuckDB as all-text tables, keeping each row's line number.

DuckDB parses the files; Python only sniffs the encoding and separator from the raw bytes (one
streaming pass that also computes the file's sha256), reads the header line, and transcodes the
rare non-UTF-8 file. Structurally broken lines (too many or too few fields, a quote left open by a
truncated last line) are rejected with their line number instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline_analytics.errors import InputError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
DELIMITERS = (",", ";", "\t")
_CHUNK = 1 << 20
_SAMPLE = 64 * 1024


@dataclass(frozen=True)
class FileFingerprint:
    sha256: str
    encoding: str  # 'utf-8', 'utf-8-sig', 'utf-16' or 'cp1252'
    size: int


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


def peek_headers(path: Path, fp: FileFingerprint, sheet: str | None = None) -> list[str]:
    """The column headers of an export without loading it (to recognise what the file holds)."""
    _check_not_empty(path, fp)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return [str(c) for c in _excel_sheet(path, sheet, n_rows=0).to_arrow().column_names]
    if suffix in PARQUET_SUFFIXES or suffix in JSON_SUFFIXES:
        con = duckdb.connect()
        try:
            relation = _parquet_relation(path) if suffix in PARQUET_SUFFIXES else None
            if relation is None:
                _create_json_table(con, path, "peek")
                relation = "peek"
            return [c for c in _columns(con, relation) if c != "_row"]
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


def drop_loaded(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop what `load_file` created for `table`."""
    con.execute(f"drop view if exists {table}")
    con.execute(f"drop table if exists {_lines(table)}")


def _lines(table: str) -> str:
    return f"{table}_lines"


def _number_lines(con: duckdb.DuckDBPyConnection, table: str, first_line: int) -> None:
    """View `table`: the rows of `<table>_lines` with their line number `_row`.

    A table created from one ordered scan keeps the scan's order in its rowid, so the line number
    is computed when read instead of with a `row_number()` pass over the whole file.
    """
    con.execute(
        f"create or replace temp view {table} as "
        f"select *, rowid + {first_line} as _row from {_lines(table)}"
    )


def _check_not_empty(path: Path, fp: FileFingerprint) -> None:
    if fp.size == 0:
        raise InputError(f"{path}: the file is empty; export it again with a header row and data")


def _text_header(path: Path, fp: FileFingerprint) -> tuple[list[str], str]:
    """Header names and separator of a delimited text file, from its first line."""
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE)
    if b"\x00" in sample and fp.encoding != "utf-16":
        raise InputError(
            f"{path}: this is not a text export (binary content); export the data as CSV or XLSX"
        )
    text = sample.decode(fp.encoding, errors="replace").lstrip("\ufeff")
    first_line = text.splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise InputError(f"{path}: the first line is blank; the header row must come first")
    delimiter = _detect_delimiter(first_line)
    names = next(csv.reader([first_line], delimiter=delimiter, quotechar='"'))
    return _unique_names(names), delimiter


def _unique_names(names: list[str]) -> list[str]:
    """Blank headers get a position name and repeated headers a suffix, so every column is named."""
    seen: dict[str, int] = {}
    unique = []
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        unique.append(name)
    return unique


def _load_text(
    con: duckdb.DuckDBPyConnection, path: Path, fp: FileFingerprint, table: str, temp_dir: Path
) -> LoadedFile:
    headers, delimiter = _text_header(path, fp)
    readable = path
    if fp.encoding in ("utf-16", "cp1252"):
        readable = _transcode_to_utf8(path, fp.encoding, temp_dir)
    rejects_table, rejects_scan = f"{table}_rejects", f"{table}_scans"
    # The header is parsed above, so DuckDB's sniffer is off: a truncated last line then becomes
    # one rejected line instead of an unreadable file.
    columns = {name: "VARCHAR" for name in headers}
    try:
        con.execute(
            f"""
            create or replace temp table {_lines(table)} as
            select *
            from read_csv(?, delim = ?, header = true, auto_detect = false, columns = ?,
                          quote = '"', escape = '"', null_padding = false,
                          store_rejects = true, rejects_table = '{rejects_table}',
                          rejects_scan = '{rejects_scan}', max_line_size = 20000000)
            """,
            [str(readable), delimiter, columns],
        )
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot be read as a delimited text file ({first})") from exc
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)
    rejects = [
        (int(line), f"{error_type.lower()}: {message}", (raw or "").strip("\r\n"))
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
        _number_lines_around_rejects(con, table, [line for line, _, _ in rejects])
    else:
        _number_lines(con, table, first_line=2)  # line 1 is the header
    rows = con.execute(f"select count(*) from {_lines(table)}").fetchall()[0][0]
    return LoadedFile(table, headers, rows + len(rejects), rejects, delimiter)


def _number_lines_around_rejects(
    con: duckdb.DuckDBPyConnection, table: str, rejected_lines: list[int]
) -> None:
    """View `table` with real line numbers: the k-th good row is on the k-th unrejected line."""
    lines = _lines(table)
    good = con.execute(f"select count(*) from {lines}").fetchall()[0][0]
    last = good + len(rejected_lines) + 1
    con.execute(
        f"""
        create or replace temp table {lines} as
        select l.*, good.line as _row
        from (select *, rowid as k from {lines}) as l
        inner join (
            select line, row_number() over (order by line) - 1 as k
            from range(2, ? + 1) as r(line)
            where line not in (select unnest(?::bigint[]))
        ) as good on l.k = good.k
        """,
        [last, rejected_lines],
    )
    con.execute(f"alter table {lines} drop column k")
    con.execute(f"create or replace temp view {table} as select * from {lines}")


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
        _create_text_table(con, f"{table}_arrow", table, first_line=2)
    finally:
        con.unregister(f"{table}_arrow")
    headers = [c for c in _columns(con, table) if c != "_row"]
    return LoadedFile(table, headers, arrow_table.num_rows, [])


def _parquet_relation(path: Path) -> str:
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> LoadedFile:
    try:
        _create_text_table(con, _parquet_relation(path), table, first_line=1)
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot be read as Parquet ({exc})") from exc
    headers = [c for c in _columns(con, table) if c != "_row"]
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return LoadedFile(table, headers, rows, [])


def _load_json(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> LoadedFile:
    _create_json_table(con, path, table)
    headers = [c for c in _columns(con, table) if c != "_row"]
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return LoadedFile(table, headers, rows, [])


def _create_json_table(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
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
                con.execute(
                    f"create or replace temp table {stage} as select unnest(data) as data "
                    f"from {stage}"
                )
            elif types.get("data", "").startswith("STRUCT"):
                con.execute(f"create or replace temp table {stage} as select data.* from {stage}")
            else:
                break
        _flatten_structs(con, stage)
        _create_text_table(con, stage, table, first_line=1)
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
) -> None:
    """Copy a typed relation into all-VARCHAR view `table`, numbering rows from first_line."""
    quoted = [_quote(c) for c in _columns(con, relation)]
    casts = ", ".join(f"cast({q} as varchar) as {q}" for q in quoted)
    con.execute(f"create or replace temp table {_lines(table)} as select {casts} from {relation}")
    _number_lines(con, table, first_line)


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
