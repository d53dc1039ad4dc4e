"""Numbers and dates as the export's locale wrote them, decided once per file, parsed in SQL.

The decimal separator and the day/month order are properties of the whole export, so they are
decided from every value of every number or date column of the file (or taken from the config),
never guessed row by row: `1.234` is one thousand two hundred thirty-four in a file that also holds
`5.678,90`, and `03/04/2024` is the 3rd of April in a file that also holds `31/01/2024`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline_analytics.errors import InputError

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

_TIMES = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
_NAMED_MONTH_DATES = ("%d %b, %Y", "%d %b %Y", "%b %d, %Y", "%d %B %Y", "%B %d, %Y", "%d-%b-%Y")


@dataclass(frozen=True)
class Locale:
    """How one file writes numbers and dates."""

    decimal: str = "."
    date_order: str | None = None  # 'dmy' / 'mdy'; None when the file has no d/m/y dates
    date_format: str | None = None  # an explicit strptime layout from the config wins


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
    if decimal is None:
        decimal = _detect_decimal(con, relation, number_exprs, delimiter, file_label, source_name)
    if date_format is None and date_order is None:
        date_order = _detect_date_order(con, relation, date_exprs, file_label, source_name)
    return Locale(decimal=decimal, date_order=date_order, date_format=date_format)


def number_sql(text_expr: str, locale: Locale) -> str:
    """SQL for a DOUBLE read from text: `1.234,56`, `$1,234.56`, `€ 1.234`, `(12.50)`, `45%`."""
    thousands = "," if locale.decimal == "." else "."
    cleaned = f"regexp_replace({text_expr}, {_lit(_NOISE)}, '', 'g')"
    negated = f"regexp_replace({cleaned}, '^\\((.*)\\)$', '-\\1')"  # accounting negatives
    normal = f"replace({negated}, '{thousands}', '')"
    if locale.decimal == ",":
        return f"try_cast(replace({normal}, ',', '.') as double)"
    # Plain numbers take the fast path; only decorated ones go through the clean-up.
    return f"coalesce(try_cast({text_expr} as double), try_cast({normal} as double))"


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
    # Plain numbers (most values of most files) skip the regular expressions.
    return (
        f"case when try_cast({text_expr} as double) is null then coalesce("
        f"nullif(regexp_extract({text_expr}, '^([A-Z]{{3}})', 1), ''), "
        f"nullif(regexp_extract({text_expr}, '([A-Z]{{3}})$', 1), ''), "
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


def timestamp_sql(text_expr: str, locale: Locale) -> str:
    """SQL for a TIMESTAMP (UTC) read from text in any layout the file's locale allows.

    ISO dates and timestamps (offsets converted to UTC, naive ones taken as UTC), the file's
    d/m/y or m/d/y dates with optional times, dates with month names (`15 Apr, 2021`), and epoch
    milliseconds (13 digits, as legacy HubSpot exports write them).
    """
    if locale.date_format:
        return f"try_strptime({text_expr}, '{_sql_text(locale.date_format)}')"
    layouts = list(_NAMED_MONTH_DATES)
    if locale.date_order is not None:
        day_month = "%d{s}%m" if locale.date_order == "dmy" else "%m{s}%d"
        for sep in ("/", ".", "-"):
            # %Y also reads '24', so two-digit years are tried first (%y reads exactly two).
            for year in ("%y", "%Y"):
                date = day_month.format(s=sep) + sep + year
                layouts += [date, *(f"{date} {t}" for t in _TIMES)]
    layouts += ["%Y/%m/%d", *(f"%Y/%m/%d {t}" for t in _TIMES)]
    formats = ", ".join(f"'{f}'" for f in layouts)
    # An offset or Z after the date part: converted to UTC through TIMESTAMPTZ (slower).
    # LIKE patterns rather than substr/strpos: cheaper over millions of values.
    offset_patterns = ("__________%+%", "__________%-%", "%Z", "%z")
    has_offset = " or ".join(f"{text_expr} like '{pattern}'" for pattern in offset_patterns)
    return (
        # DuckDB's own cast also reads '3/4/24' (as year 3): only ISO text goes through it.
        f"coalesce(case when {text_expr} not like '____-%' then null "
        f"when {has_offset} then try_cast(try_cast({text_expr} as timestamptz) as timestamp) "
        f"else try_cast({text_expr} as timestamp) end, "
        f"try_strptime({text_expr}, [{formats}]), "
        f"case when regexp_full_match({text_expr}, '[0-9]{{13}}') "
        f"then make_timestamp(try_cast({text_expr} as bigint) * 1000) end)"
    )


def _detect_decimal(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    number_exprs: dict[str, str],
    delimiter: str | None,
    file_label: str,
    source_name: str,
) -> str:
    if not number_exprs:
        return "."
    values = "unnest([" + ", ".join(number_exprs.values()) + "])"
    cleaned = f"regexp_replace(v, {_lit(_NOISE)}, '', 'g')"
    # Plain numbers ('1234.5', read by a cast) are a decimal point unless they could be a
    # thousands group ('1.234'); only decorated values ('1.234,56', '$ 1,234') need the patterns.
    whole, fraction = "ltrim(split_part(v, '.', 1), '-')", "split_part(v, '.', 2)"
    plain_dot = (
        f"contains(v, '.') and not (length({fraction}) = 3 "
        f"and length({whole}) between 1 and 3 and {whole} <> '0')"
    )
    comma = f"not plain and regexp_full_match(c, '{_COMMA_DECIMAL}')"
    dot = f"(plain and {plain_dot}) or (not plain and regexp_full_match(c, '{_DOT_DECIMAL}'))"
    comma, comma_example, dot, dot_example = con.execute(
        f"""
        select
            count(*) filter (where {comma}), min(v) filter (where {comma}),
            count(*) filter (where {dot}), min(v) filter (where {dot})
        from (
            select v, plain, case when not plain then {cleaned} end as c
            from (
                select v, try_cast(v as double) is not null as plain
                from (select {values} as v from {relation})
                where v is not null
            )
        )
        """
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
    relation: str,
    date_exprs: dict[str, str],
    file_label: str,
    source_name: str,
) -> str | None:
    if not date_exprs:
        return None
    selects = []
    for expr in date_exprs.values():
        parts = f"regexp_extract(v, '{_NUMERIC_DATE}', ['first', 'second'])"
        selects.append(
            f"""
            select count(*) as n,
                   max(try_cast(p.first as integer)) as max_first,
                   max(try_cast(p.second as integer)) as max_second,
                   min(v) filter (where try_cast(p.first as integer) > 12) as day_first_example,
                   min(v) filter (where try_cast(p.second as integer) > 12) as month_first_example,
                   min(v) as example
            from (
                select v, {parts} as p
                from (
                    select v from (select {expr} as v from {relation})
                    -- ISO dates (yyyy-...) cannot be day- or month-first: no regex for them.
                    where v not like '____-%'
                )
            )
            where p.first <> ''
            """
        )
    rows = con.execute(" union all ".join(selects)).fetchall()
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


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _lit(value: str) -> str:
    return "'" + _sql_text(value) + "'"
