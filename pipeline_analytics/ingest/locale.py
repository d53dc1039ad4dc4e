"""Numbers and dates as the export's locale wrote them, decided once per file, parsed in SQL.

The decimal separator and the day/month order are properties of the whole export, so they are
decided from every value of every number or date column of the file (or taken from the config),
never guessed row by row: `1.234` is one thousand two hundred thirty-four in a file that also holds
`5.678,90`, and `03/04/2024` is the 3rd of April in a file that also holds `31/01/2024`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb

from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest.files import create_reading_view
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

DECIMAL_SEPARATORS = (".", ",")
DATE_ORDERS = ("dmy", "mdy")

# A number whose separators can only mean a decimal comma (or only a decimal point), after
# currency symbols, codes and spaces are removed. `1,234` and `1.234` alone prove nothing.
_COMMA_DECIMAL = (
    r"^-?([0-9]{1,3}(\.[0-9]{3})+,[0-9]*|[0-9]*,[0-9]{1,2}|[0-9]*,[0-9]{4,}|[0-9]{4,},[0-9]+"
    r"|0,[0-9]+|[0-9]{1,3}(\.[0-9]{3}){2,})$"
)
_DOT_DECIMAL = (
    r"^-?([0-9]{1,3}(,[0-9]{3})+\.[0-9]*|[0-9]*\.[0-9]{1,2}|[0-9]*\.[0-9]{4,}|[0-9]{4,}\.[0-9]+"
    r"|0\.[0-9]+|[0-9]{1,3}(,[0-9]{3}){2,})$"
)
# Spaces (also no-break), currency symbols, percent signs and a leading or trailing ISO code.
_NOISE = r"[\s\x{00a0}\x{202f}'’€$£¥%]|^[A-Z]{3}|[A-Z]{3}$"
# d/m/y or m/d/y, with / . or - between the parts.
_NUMERIC_DATE = r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{2}|[0-9]{4})([ T].*)?$"

# Currency in the amount's own text (`JPY 150,000,000`, `1.234,56 EUR`, `€ 1.234`). A symbol
# of one currency names it; `$` and `¥` are written for several, so they name the source's
# currency when it is one of those, and nothing otherwise (the value is then rejected).
CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP"}
SHARED_SYMBOLS = {
    "$": (
        "USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD", "UYU",
        "BSD", "BBD", "BZD", "BMD", "BND", "FJD", "GYD", "JMD", "KYD", "LRD", "NAD", "SBD",
        "SRD", "TTD", "XCD",
    ),
    "¥": ("JPY", "CNY"),
}  # fmt: skip

# Thousands, millions and billions as a suffix after the number (`$342.09K`, `1,2 Mio €`,
# `(1.5k)`), before any currency written after it. Groups: the number, the suffix, the rest.
_AMOUNT_SUFFIX = (
    r"^(.*[0-9])\s*(k|mm|mn|mio|mln|m|bn|b|mrd|mld)\.?(\s*(?:[A-Za-z]{3}|[€$£¥])?\)?)\s*$"
)
_AMOUNT_MULTIPLIERS = {
    "k": 1_000, "m": 1_000_000, "mm": 1_000_000, "mn": 1_000_000, "mio": 1_000_000,
    "mln": 1_000_000, "b": 1_000_000_000, "bn": 1_000_000_000, "mrd": 1_000_000_000,
    "mld": 1_000_000_000,
}  # fmt: skip

_TIMES = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
# Dates with month names, as CRMs write them (`15 Apr, 2021`, `Apr 15, 2021`, `15-Apr-21`),
# alone or followed by a time. Two-digit years come before four (%Y would read `21` as year 21).
_NAMED_MONTH_DAYS = (
    "%d %b, %Y", "%d %b %Y", "%b %d, %Y", "%b %d %Y", "%d %B %Y", "%d %B, %Y", "%B %d, %Y",
    "%B %d %Y", "%d-%b-%y", "%d-%b-%Y", "%d/%b/%Y",
)  # fmt: skip
_NAMED_MONTH_LAYOUTS = tuple(
    day + time
    for day in _NAMED_MONTH_DAYS
    for time in ("", *(f"{sep}{t}" for sep in (" ", ", ") for t in _TIMES))
)
_ISO_LAYOUTS = (
    "%Y-%m-%d",
    *(
        f"%Y-%m-%d{sep}{time}{zone}"
        for sep in (" ", "T")
        for time in ("%H:%M:%S", "%H:%M", "%H:%M:%S.%f")
        for zone in ("", "Z", "%z")
    ),
)
_YEAR_FIRST_LAYOUTS = ("%Y/%m/%d", *(f"%Y/%m/%d {t}" for t in _TIMES))
# What a column is read with when no strptime layout names it.
ISO_8601 = "ISO 8601"
EPOCH_MILLISECONDS = "epoch milliseconds"
# Italian month names, full then abbreviated, as the English abbreviation strptime's %b reads.
# Applied to lower-cased text before layouts with month names; no English month name holds one.
_ITALIAN_MONTHS = (
    ("gennaio", "jan"), ("febbraio", "feb"), ("marzo", "mar"), ("aprile", "apr"),
    ("maggio", "may"), ("giugno", "jun"), ("luglio", "jul"), ("agosto", "aug"),
    ("settembre", "sep"), ("ottobre", "oct"), ("novembre", "nov"), ("dicembre", "dec"),
    ("gen", "jan"), ("mag", "may"), ("giu", "jun"), ("lug", "jul"), ("ago", "aug"),
    ("sett", "sep"), ("set", "sep"), ("ott", "oct"), ("dic", "dec"),
)  # fmt: skip
# Layouts whose values DuckDB's ISO cast or the epoch rule reads: timestamp_sql needs no
# strptime for them.
_READ_WITHOUT_STRPTIME = frozenset((*_ISO_LAYOUTS, ISO_8601, EPOCH_MILLISECONDS))


def is_iso_layout(layout: str) -> bool:
    """An ISO 8601 date layout: read everywhere with no setting, so not worth recording."""
    return layout == ISO_8601 or layout in _ISO_LAYOUTS


# Value groups looked at per column: more are free text, not dates.
_MAX_VALUE_GROUPS = 100


@dataclass(frozen=True)
class Locale:
    """How one file writes numbers and dates.

    The date_* dictionaries are keyed by date column (as named in detect_locale's date_exprs).
    With no date_format configured, `date_formats` holds the layout that reads the most of the
    column's values (a strptime layout, or ISO_8601 / EPOCH_MILLISECONDS) and `date_layouts` the
    strptime layouts its values need, most used first. `date_hints` holds the config line that
    would read values no layout in use reads, when a layout does.
    """

    decimal: str = "."
    date_order: str | None = None  # 'dmy' / 'mdy'; None when the file has no d/m/y dates
    date_format: str | None = None  # an explicit strptime layout from the config wins
    date_formats: dict[str, str] = field(default_factory=dict)
    date_layouts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_hints: dict[str, str] = field(default_factory=dict)


def detect_locale(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    number_exprs: dict[str, str],
    date_exprs: dict[str, str],
    *,
    decimal: str | None,
    date_order: str | None,
    date_format: str | None,
    delimiter: str | None,
    file_label: str,
    source_name: str,
) -> Locale:
    """Decide the file's decimal separator and date order from all its values (or the config)."""
    # The statements in sql/ingest/ read the values of every number and every date column of the
    # file as rows of views number_values (v) and date_values (col: index in date_exprs, v).
    create_reading_view(con, "number_values", relation, _values(number_exprs))
    create_reading_view(con, "date_values", relation, _values(date_exprs, with_index=True))
    try:
        if decimal is None:
            decimal = _detect_decimal(con, number_exprs, delimiter, file_label, source_name)
        if date_format is None and date_order is None:
            date_order = _detect_date_order(con, date_exprs, file_label, source_name)
        formats, layouts, hints = _detect_date_layouts(
            con, date_exprs, date_order, date_format, file_label, source_name
        )
    finally:
        con.execute("drop view number_values")
        con.execute("drop view date_values")
    return Locale(
        decimal=decimal,
        date_order=date_order,
        date_format=date_format,
        date_formats=formats,
        date_layouts=layouts,
        date_hints=hints,
    )


def _unnest(exprs: dict[str, str]) -> str:
    """SQL for the values of `exprs` of a row, one row each (none without `exprs`)."""
    return f"unnest([{', '.join(exprs.values())}]::varchar[])"


def _values(exprs: dict[str, str], *, with_index: bool = False) -> dict[str, str]:
    """Reading-view columns giving the values of `exprs`, one row per value: `v`, and with
    `with_index` `col`, the index of the expression in `exprs`.

    A single expression (a history file's one date column) is read as it is: unnesting a list of
    one costs more than the aggregate reading it over 10M rows, for the same rows.
    """
    if len(exprs) == 1:
        (expr,) = exprs.values()
        single = {"v": f"({expr})::varchar"}
        return {"col": "0::bigint", **single} if with_index else single
    index = {"col": f"unnest(range({len(exprs)}))"} if with_index else {}
    return {**index, "v": _unnest(exprs)}


def number_sql(text_expr: str, locale: Locale) -> str:
    """SQL for a DOUBLE read from text: `1.234,56`, `$1,234.56`, `€ 1.234`, `(12.50)`, `45%`,
    `$342.09K`, `1,2 Mio €`."""
    suffix = (
        f"regexp_extract({text_expr}, {_lit(_AMOUNT_SUFFIX)}, ['number', 'suffix', 'rest'], 'i')"
    )
    multiplier = " ".join(
        f"when {_lit(name)} then {factor}" for name, factor in _AMOUNT_MULTIPLIERS.items()
    )
    # The suffix comes off before the clean-up, which would take `MLN` for a currency code;
    # decimal arithmetic keeps `342.09K` at 342090 exactly.
    scaled = (
        f"(try_cast({_plain_number_sql(f'({suffix}.number || {suffix}.rest)', locale)} "
        f"as decimal(38, 10)) * case lower({suffix}.suffix) {multiplier} end)::double"
    )
    has_suffix = f"regexp_matches({text_expr}, {_lit(_AMOUNT_SUFFIX)}, 'i')"
    decorated = (
        f"case when {has_suffix} then {scaled} else {_plain_number_sql(text_expr, locale)} end"
    )
    if locale.decimal == ",":
        return decorated
    # Plain numbers take the fast path; only decorated ones go through the clean-up.
    return f"coalesce(try_cast({text_expr} as double), {decorated})"


def _plain_number_sql(text_expr: str, locale: Locale) -> str:
    """SQL for a DOUBLE read from text after removing symbols, codes, spaces and thousands."""
    thousands = "," if locale.decimal == "." else "."
    cleaned = f"regexp_replace({text_expr}, {_lit(_NOISE)}, '', 'g')"
    negated = f"regexp_replace({cleaned}, '^\\((.*)\\)$', '-\\1')"  # accounting negatives
    normal = f"replace({negated}, '{thousands}', '')"
    if locale.decimal == ",":
        return f"try_cast(replace({normal}, ',', '.') as double)"
    return f"try_cast({normal} as double)"


def amount_currency_sql(text_expr: str) -> str:
    """SQL for the currency an amount's text names: the ISO code before or after the number
    (`JPY 150,000,000`, `1.234,56 EUR`), the code of a one-currency symbol (`€`, `£`), a shared
    symbol as written (`$`, `¥`); NULL for a bare number.

    These are the codes and symbols `number_sql` strips: what it removes, this reads.
    """
    named = {**CURRENCY_SYMBOLS, **{symbol: symbol for symbol in SHARED_SYMBOLS}}
    symbols = " ".join(
        f"when contains({text_expr}, {_lit(symbol)}) then {_lit(code)}"
        for symbol, code in named.items()
    )
    # `1.5 MLN` is a million and a half, not an amount in MLN: codes are read without the suffix.
    unsuffixed = f"regexp_replace({text_expr}, {_lit(_AMOUNT_SUFFIX)}, '\\1\\3', 'i')"
    # Plain numbers (most values of most files) skip the regular expressions.
    return (
        f"case when try_cast({text_expr} as double) is null then coalesce("
        f"nullif(regexp_extract({text_expr}, '^([A-Z]{{3}})', 1), ''), "
        f"nullif(regexp_extract({unsuffixed}, '([A-Z]{{3}})$', 1), ''), "
        f"case {symbols} end) end"
    )


def deal_currency_sql(column: str, named: str, default: str | None) -> str:
    """SQL for a deal's currency: its currency column, else what its amount names (`named`, from
    amount_currency_sql), else `default` (the source's currency)."""
    resolved = " ".join(
        # A shared symbol the default does not use is rejected by amount_currency_check.
        f"when {_lit(symbol)} then {_lit(default) if default in codes else 'null'}"
        for symbol, codes in SHARED_SYMBOLS.items()
    )
    fallback = _lit(default) if default else "null"
    return f"coalesce({column}, case {named} {resolved} else {named} end, {fallback})"


def amount_currency_check(
    amount: str, named: str, column: str, default: str | None, source_name: str
) -> str:
    """SQL giving why the currency an amount names cannot be the deal's (or NULL).

    `named` comes from amount_currency_sql; `column` is the currency column's text (NULL when the
    export has none or leaves it empty); `default` is the source's currency.
    """
    shown = f"'amount: ''' || left({amount}, 40) || ''' "
    fix = "|| '''; fix the amount or the currency'"
    source = _sql_text(source_name)
    when = []
    for symbol, codes in SHARED_SYMBOLS.items():
        is_symbol = f"{named} = {_lit(symbol)}"
        users = (
            f"{' and '.join(codes)} both"
            if len(codes) == 2
            else f"{', '.join(codes[:4])} and others"
        )
        when.append(
            f"when {is_symbol} and upper({column}) not in ({', '.join(map(_lit, codes))}) "
            f"then {shown}is written with {symbol}, which is not used for ''' || {column} {fix}"
        )
        if default not in codes:
            when.append(
                f"when {is_symbol} and {column} is null "
                f"then {shown}is written with {symbol}, which {users} use, and amounts of "
                f"source ''{source}'' are in {_sql_text(default or '?')}; set currency = "
                f"""\"{codes[0]}\" (or the right code) for source ''{source}'' in the config, """
                "or export a currency column'"
            )
    shared = ", ".join(_lit(symbol) for symbol in SHARED_SYMBOLS)
    when.append(
        f"when {named} not in ({shared}) and upper({column}) <> {named} "
        f"then {shown}is in ' || {named} || ' but the currency column says ''' || {column} {fix}"
    )
    return f"case {' '.join(when)} end"


def timestamp_sql(text_expr: str, locale: Locale, column: str | None = None) -> str:
    """SQL for a TIMESTAMP (UTC) read from text in any layout the file's locale allows.

    ISO dates and timestamps (offsets converted to UTC, naive ones taken as UTC), the file's
    d/m/y or m/d/y dates with optional times, dates with month names in English or Italian
    (`15 Apr, 2021 00:02:00`, `15 mag 2021`), and epoch milliseconds (13 digits, as legacy
    HubSpot exports write them). The layouts detected for `column` (default: `text_expr`, the
    name adapters give a date column) are tried first.
    """
    if locale.date_format:
        return _strptime_sql(text_expr, (locale.date_format,))
    # An offset or Z after the date part: converted to UTC through TIMESTAMPTZ (slower).
    # LIKE patterns rather than substr/strpos: cheaper over millions of values.
    offset_patterns = ("__________%+%", "__________%-%", "%Z", "%z")
    has_offset = " or ".join(f"{text_expr} like '{pattern}'" for pattern in offset_patterns)
    # DuckDB's own cast also reads '3/4/24' (as year 3): only ISO text goes through it.
    iso = (
        f"case when {text_expr} not like '____-%' then null "
        f"when {has_offset} then try_cast(try_cast({text_expr} as timestamptz) as timestamp) "
        f"else try_cast({text_expr} as timestamp) end"
    )
    detected = locale.date_layouts.get(column or text_expr, ())
    numeric = []
    if locale.date_order is not None:
        numeric = _numeric_layouts(locale.date_order)
    epoch = (
        f"case when regexp_full_match({text_expr}, '[0-9]{{13}}') "
        f"then make_timestamp(try_cast({text_expr} as bigint) * 1000) end"
    )
    others = (*numeric, *_YEAR_FIRST_LAYOUTS, *_NAMED_MONTH_LAYOUTS)
    italian = _italian_read_sql(text_expr, (*detected, *others))
    # ISO text fails the other layouts at its first characters, so trying it first costs others
    # little; the layouts the column was detected with come next, everything else after them.
    # Italian month names are tried once: DuckDB computes an expression written twice for every
    # row, and the translation costs more than reading.
    parts = [
        iso,
        *_layout_reads_sql(text_expr, detected),
        *([italian] if detected else []),
        *_layout_reads_sql(text_expr, others),
        epoch,
        *([] if detected else [italian]),
    ]
    return f"coalesce({', '.join(parts)})"


def _numeric_layouts(date_order: str) -> list[str]:
    """d/m/y (or m/d/y) layouts with / . or - between the parts, alone or with a time."""
    day_month = "%d{s}%m" if date_order == "dmy" else "%m{s}%d"
    layouts = []
    for sep in ("/", ".", "-"):
        # %Y also reads '24', so two-digit years are tried first (%y reads exactly two).
        for year in ("%y", "%Y"):
            date = day_month.format(s=sep) + sep + year
            layouts += [date, *(f"{date} {t}" for t in _TIMES)]
    return layouts


def _strptime_sql(text_expr: str, layouts: tuple[str, ...]) -> str:
    """SQL reading text with the first of `layouts` that reads it, month names in English or
    Italian."""
    reads = [*_layout_reads_sql(text_expr, layouts), _italian_read_sql(text_expr, layouts)]
    return f"coalesce({', '.join(reads)})"


def _layout_reads_sql(text_expr: str, layouts: tuple[str, ...]) -> list[str]:
    """SQL reading text as written with `layouts`: those without month names, then those with."""
    plain = _layout_list([layout for layout in layouts if not _has_month_name(layout)])
    named = _layout_list([layout for layout in layouts if _has_month_name(layout)])
    return [f"try_strptime({text_expr}, {listed})" for listed in (plain, named) if listed]


def _italian_read_sql(text_expr: str, layouts: tuple[str, ...]) -> str:
    """SQL reading text with Italian month names (`15 mag 2021`) with the layouts that have
    month names; NULL when none has."""
    named = _layout_list([layout for layout in layouts if _has_month_name(layout)])
    return f"try_strptime({_english_months_sql(text_expr)}, {named})" if named else "null"


def _has_month_name(layout: str) -> bool:
    return "%b" in layout or "%B" in layout


def _layout_list(layouts: list[str]) -> str:
    """A SQL list of layouts; empty text for none."""
    return "[" + ", ".join(map(_lit, layouts)) + "]" if layouts else ""


def _english_months_sql(text_expr: str) -> str:
    """SQL for the text in lower case with Italian month names as English abbreviations."""
    sql = f"lower({text_expr})"
    for italian, english in _ITALIAN_MONTHS:
        sql = f"replace({sql}, '{italian}', '{english}')"
    return sql


def _detect_decimal(
    con: duckdb.DuckDBPyConnection,
    number_exprs: dict[str, str],
    delimiter: str | None,
    file_label: str,
    source_name: str,
) -> str:
    if not number_exprs:
        return "."
    comma, comma_example, dot, dot_example = con.execute(
        sql_statement("ingest/locale_decimal_evidence"),
        {
            "amount_suffix": _AMOUNT_SUFFIX,
            "noise": _NOISE,
            "comma_decimal": _COMMA_DECIMAL,
            "dot_decimal": _DOT_DECIMAL,
        },
    ).fetchall()[0]
    if comma and dot:
        raise InputError(
            f"{file_label}: numbers are written both with a decimal comma ('{comma_example}') "
            f'and a decimal point (\'{dot_example}\'); set decimal = "," or "." for source '
            f"'{source_name}' in the config"
        )
    if comma:
        return ","
    if dot:
        return "."
    # Nothing but integers and 1.234-like values: semicolon files come from decimal-comma locales.
    return "," if delimiter == ";" else "."


def _detect_date_order(
    con: duckdb.DuckDBPyConnection,
    date_exprs: dict[str, str],
    file_label: str,
    source_name: str,
) -> str | None:
    if not date_exprs:
        return None
    found = con.execute(
        sql_statement("ingest/locale_date_order_evidence"), {"numeric_date": _NUMERIC_DATE}
    ).fetchall()
    by_column = {row[0]: row[1:] for row in found}
    rows = [by_column.get(i, (0, None, None, None, None, None)) for i in range(len(date_exprs))]
    names = list(date_exprs)
    day_first = [(names[i], r[3]) for i, r in enumerate(rows) if r[0] and r[1] > 12]
    month_first = [(names[i], r[4]) for i, r in enumerate(rows) if r[0] and r[2] > 12]
    if day_first and month_first:
        raise InputError(
            f"{file_label}: dates are written day-first ('{day_first[0][1]}' in "
            f"{day_first[0][0]}) and month-first ('{month_first[0][1]}' in {month_first[0][0]}); "
            f'set date_order = "dmy" or "mdy" for source \'{source_name}\' in the config'
        )
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    ambiguous = [(names[i], r[5]) for i, r in enumerate(rows) if r[0]]
    if ambiguous:
        raise InputError(
            f"{file_label}: every date like '{ambiguous[0][1]}' ({ambiguous[0][0]}) could be "
            f'day-first or month-first; set date_order = "dmy" or "mdy" for source '
            f"'{source_name}' in the config"
        )
    return None


def _detect_date_layouts(
    con: duckdb.DuckDBPyConnection,
    date_exprs: dict[str, str],
    date_order: str | None,
    date_format: str | None,
    file_label: str,
    source_name: str,
) -> tuple[dict[str, str], dict[str, tuple[str, ...]], dict[str, str]]:
    """Per date column: the layout reading most of its values, the strptime layouts its values
    need (most used first) and, for values no layout reads, the date_format that would read them.

    One aggregate pass groups each column's values by shape (length, separators, leading digit);
    the candidate layouts are then tried on three values of each group (its first line, its
    least and its greatest value), and a group counts as read by a layout reading all three.
    Configured, the date_format is the only layout used; the others only suggest a better one.
    """
    if not date_exprs:
        return {}, {}, {}
    used = (date_format,) if date_format else _auto_layouts(date_order)
    other_orders = [o for o in DATE_ORDERS if o != date_order or date_format]
    suggestions = tuple(
        dict.fromkeys(
            layout
            for layout in (
                *_ISO_LAYOUTS,
                *(layout for order in other_orders for layout in _numeric_layouts(order)),
                *_auto_layouts(date_order),
            )
            if layout not in (ISO_8601, EPOCH_MILLISECONDS, date_format)
        )
    )
    candidates = tuple(dict.fromkeys((*used, *suggestions)))
    examples = _date_examples(con)
    read_by = _layouts_reading(con, sorted({value for *_, value in examples}), candidates)
    rows_read = [(*row, read_by[row[-1]]) for row in examples]
    formats: dict[str, str] = {}
    layouts: dict[str, tuple[str, ...]] = {}
    hints: dict[str, str] = {}
    for index, column in enumerate(date_exprs):
        rows = [row for row in rows_read if row[0] == index]
        reads = _values_read(rows, candidates)
        if not date_format:
            read_most = max(used, key=lambda layout: reads[layout])  # the first of equals
            if reads[read_most]:
                formats[column] = read_most
            needed = [
                layout for layout in used if reads[layout] and layout not in _READ_WITHOUT_STRPTIME
            ]
            if needed:
                layouts[column] = tuple(sorted(needed, key=lambda layout: -reads[layout]))
        in_use = [candidates.index(layout) for layout in used]
        # (line, value) -> read by each candidate, for the values no layout in use reads.
        unread = {
            (line, value): dict(zip(candidates, read, strict=True))
            for _, _, _, line, value, read in rows
            if not any(read[i] for i in in_use)
        }
        hint = _date_format_hint(list(unread.values()), suggestions, source_name)
        if hint:
            hints[column] = hint
        # A value no layout reads among readable ones is a typo, rejected with its row; a
        # column of them is a layout to name in the config.
        if hint or (unread and not any(reads[layout] for layout in used)):
            line, value = min(unread)
            fix = hint or (
                'set date_format = "..." (a strptime layout such as "%d.%m.%Y") for source '
                f"'{source_name}' in the config"
            )
            log.warning(
                "%s line %s, column %s: cannot read '%s' as a date; %s",
                *(file_label, line, column, value[:40], fix),
            )
    return formats, layouts, hints


def _auto_layouts(date_order: str | None) -> tuple[str, ...]:
    """Every layout read with no date_format configured, as timestamp_sql tries them."""
    numeric = _numeric_layouts(date_order) if date_order else []
    return (
        *_ISO_LAYOUTS,
        ISO_8601,
        *numeric,
        *_YEAR_FIRST_LAYOUTS,
        *_NAMED_MONTH_LAYOUTS,
        EPOCH_MILLISECONDS,
    )


def _date_examples(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int, int, int, str]]:
    """(column index, group, values in the group, line, value) for three values of each shape
    group of each date column (view date_values)."""
    return con.execute(
        sql_statement("ingest/locale_date_examples"), {"max_groups": _MAX_VALUE_GROUPS}
    ).fetchall()


def _layouts_reading(
    con: duckdb.DuckDBPyConnection, values: list[str], candidates: tuple[str, ...]
) -> dict[str, tuple[bool, ...]]:
    """Value -> whether each candidate layout reads it.

    A query pays for each layout it names (a few milliseconds each), so layouts are first tried
    by family (one list per family) and one by one only in the families that read a value.
    """
    families: dict[str, list[str]] = {}
    for layout in candidates:
        families.setdefault(_layout_family(layout), []).append(layout)
    family_reads = _reading(con, values, [tuple(f) for f in families.values()])
    tried = [
        layout
        for (layouts, reads) in zip(families.values(), family_reads, strict=True)
        if any(reads)
        for layout in layouts
    ]
    layout_reads = dict(zip(tried, _reading(con, values, [(t,) for t in tried]), strict=True))
    return {
        value: tuple(layout in layout_reads and layout_reads[layout][i] for layout in candidates)
        for i, value in enumerate(values)
    }


def _layout_family(layout: str) -> str:
    """Layouts of a family share their date part (up to the year) and differ in the time."""
    if layout in (ISO_8601, EPOCH_MILLISECONDS):
        return layout
    year = max(layout.find("%Y"), layout.find("%y"))
    return layout[: year + 2] if year >= 0 else layout


def _reading(
    con: duckdb.DuckDBPyConnection, values: list[str], layout_sets: list[tuple[str, ...]]
) -> list[tuple[bool, ...]]:
    """For each set of layouts, whether one of them reads each value (in `values` order)."""
    if not values or not layout_sets:
        return [tuple(False for _ in values) for _ in layout_sets]
    reads = ", ".join(_reads_sql(layouts) for layouts in layout_sets)
    con.execute(sql_statement("ingest/locale_date_candidates"), {"values": values})
    english = {"value": "candidate", "english_value": _english_months_sql("candidate")}
    create_reading_view(con, "candidate_reads", "date_candidates", english, {"reads": f"[{reads}]"})
    try:
        rows = con.execute("select reads from candidate_reads order by _row").fetchall()
    finally:
        con.execute("drop view candidate_reads")
        con.execute("drop table date_candidates")
    return [tuple(bool(row[0][k]) for row in rows) for k in range(len(layout_sets))]


def _reads_sql(layouts: tuple[str, ...]) -> str:
    """SQL true when one of `layouts` reads `value` (`english_value`: the value with Italian
    month names in English)."""
    if layouts == (ISO_8601,):
        return "(value like '____-%' and try_cast(value as timestamptz) is not null)"
    if layouts == (EPOCH_MILLISECONDS,):
        return "regexp_full_match(value, '[0-9]{13}')"
    listed = _layout_list(list(layouts))
    read = f"try_strptime(value, {listed}) is not null"
    if any(map(_has_month_name, layouts)):
        read += f" or try_strptime(english_value, {listed}) is not null"
    return f"coalesce({read}, false)"


def _values_read(
    rows: list[tuple[int, int, int, int, str, tuple[bool, ...]]], candidates: tuple[str, ...]
) -> dict[str, int]:
    """How many values of the column each candidate reads: a group counts when all its examples
    are read."""
    groups: dict[int, tuple[int, list[tuple[bool, ...]]]] = {}
    for _, grp, n, _, _, read in rows:
        groups.setdefault(grp, (n, []))[1].append(read)
    return {
        layout: sum(n for n, reads in groups.values() if all(read[i] for read in reads))
        for i, layout in enumerate(candidates)
    }


def _date_format_hint(
    unread: list[dict[str, bool]], suggestions: tuple[str, ...], source_name: str
) -> str | None:
    """The config line whose layout reads the most of the values no layout in use reads."""
    counts = {layout: sum(read[layout] for read in unread) for layout in suggestions}
    best = max(suggestions, key=lambda layout: counts[layout], default=None)
    if best is None or not counts[best]:
        return None
    return f"set date_format = \"{best}\" for source '{source_name}' in the config"


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _lit(value: str) -> str:
    return "'" + _sql_text(value) + "'"
