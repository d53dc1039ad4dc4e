"""The generic adapter: any CSV/XLSX/Parquet export described by a column mapping in the config.

It turns a loaded all-text table into the canonical staging tables that `store` writes to the
warehouse (`staged_deals`, `staged_history`), with a reject reason for every row that fails
conversion. All conversion is SQL over the whole table; no row crosses into Python.
"""

from __future__ import annotations

import re

import duckdb

from pipeline_analytics.config import DEAL_COLUMNS, HISTORY_COLUMNS, Source
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest.files import LoadedFile

TEXT_COLUMNS = (
    "name",
    "account",
    "owner",
    "pipeline",
    "lead_source",
    "deal_type",
    "currency",
    "segment",
)
TIMESTAMP_COLUMNS = ("created_at", "closed_at", "stage_changed_at", "updated_at")
# Dates before this or after this are typos or placeholders (1900-01-01, 2999-12-31), not events.
PLAUSIBLE_YEARS = (1980, 2100)
# Above this an amount is a data-entry accident (a pasted phone number), not a deal.
MAX_PLAUSIBLE_AMOUNT = 1e12


def normalize_header(header: str) -> str:
    """Case-folded, quotes stripped, inner whitespace collapsed: how headers are compared."""
    return re.sub(r"\s+", " ", header.replace('"', "").replace("'", "")).strip().casefold()


def resolve_columns(
    loaded: LoadedFile,
    mapping: dict[str, str],
    known: tuple[str, ...],
    required: tuple[str, ...],
    file_label: str,
) -> dict[str, str]:
    """Canonical column -> header in the file; a configured header that is missing is an error."""
    by_normal = {normalize_header(h): h for h in loaded.headers}
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for canonical in known:
        wanted = mapping.get(canonical)
        found = by_normal.get(normalize_header(wanted or canonical))
        if found is not None:
            resolved[canonical] = found
        elif wanted is not None or canonical in required:
            missing.append(f"{canonical} = '{wanted or canonical}'")
    if missing:
        raise InputError(
            f"{file_label}: mapped column(s) not found: {', '.join(missing)}; headers found: "
            f"{', '.join(repr(h) for h in loaded.headers)}; fix [sources.columns] in the config"
        )
    return resolved


def stage_deals(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_deals` (canonical columns + reject_reason/reject_column)."""
    cols = resolve_columns(
        loaded, source.columns, DEAL_COLUMNS, ("deal_id", "stage", "created_at"), file_label
    )
    raw = {c: _ident(h) for c, h in cols.items()}
    text = {c: f"nullif(trim({raw[c]}), '')" if c in raw else "null::varchar" for c in DEAL_COLUMNS}
    ts = {
        c: _timestamp(text[c], source.date_format)
        for c in (*TIMESTAMP_COLUMNS, "expected_close_date")
    }
    close_col = "closed_at"
    won = _sql_list(source.status.won)
    lost = _sql_list(source.status.lost)
    status_value = text["status"] if "status" in raw else text["stage"]
    checks = [
        ("deal_id", f"case when {text['deal_id']} is null then 'deal_id is empty' end"),
        ("stage", f"case when {text['stage']} is null then 'stage is empty' end"),
        ("created_at", _date_check("created_at", text["created_at"], ts["created_at"], True)),
        *[
            (c, _date_check(c, text[c], ts[c], False))
            for c in (close_col, "stage_changed_at", "updated_at", "expected_close_date")
            if c in raw
        ],
        *[
            (c, _number_check(c, text[c]))
            for c in ("amount", "probability", "activity_count")
            if c in raw
        ],
    ]
    reason = "concat_ws('; ', " + ", ".join(expr for _, expr in checks) + ")"
    first_bad = (
        "coalesce("
        + ", ".join(f"case when ({e}) is not null then '{c}' end" for c, e in checks)
        + ")"
    )
    con.execute(
        f"""
        create or replace temp table staged_deals as
        with typed as (
            select
                _row,
                {text["deal_id"]} as deal_id,
                {", ".join(f"{text[c]} as {c}" for c in TEXT_COLUMNS)},
                {text["stage"]} as stage,
                case when lower({status_value}) in ({won}) then 'won'
                     when lower({status_value}) in ({lost}) then 'lost'
                     else 'open' end as status,
                try_cast({text["amount"]} as double) as amount,
                try_cast({text["probability"]} as double) as probability,
                try_cast({text["activity_count"]} as integer) as activity_count,
                {ts["created_at"]} as created_at,
                {ts["closed_at"]} as close_date_value,
                {ts["expected_close_date"]} as expected_close_value,
                {ts["stage_changed_at"]} as stage_changed_at,
                {ts["updated_at"]} as updated_at,
                nullif({reason}, '') as reject_reason,
                {first_bad} as reject_column
            from {loaded.table}
        )
        select
            * exclude (close_date_value, expected_close_value, probability),
            -- One close column (like Salesforce's CloseDate) means "expected" while open.
            case when status <> 'open' then close_date_value end as closed_at,
            case when status = 'open'
                 then coalesce(expected_close_value, close_date_value)::date
                 else expected_close_value::date end as expected_close_date,
            -- Most CRMs export probability as 0-100: rescale the column when any value is > 1.
            case when max(probability) over () > 1 then probability / 100 else probability end
                as probability
        from typed
        """
    )


def stage_history(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_history` (deal_id, stage, changed_at + reject columns)."""
    cols = resolve_columns(
        loaded, source.history_columns, HISTORY_COLUMNS, HISTORY_COLUMNS, file_label
    )
    text = {c: f"nullif(trim({_ident(h)}), '')" for c, h in cols.items()}
    changed = _timestamp(text["changed_at"], source.date_format)
    checks = [
        ("deal_id", f"case when {text['deal_id']} is null then 'deal_id is empty' end"),
        ("stage", f"case when {text['stage']} is null then 'stage is empty' end"),
        ("changed_at", _date_check("changed_at", text["changed_at"], changed, True)),
    ]
    reason = "concat_ws('; ', " + ", ".join(expr for _, expr in checks) + ")"
    first_bad = (
        "coalesce("
        + ", ".join(f"case when ({e}) is not null then '{c}' end" for c, e in checks)
        + ")"
    )
    con.execute(
        f"""
        create or replace temp table staged_history as
        select
            _row,
            {text["deal_id"]} as deal_id,
            {text["stage"]} as stage,
            {changed} as changed_at,
            nullif({reason}, '') as reject_reason,
            {first_bad} as reject_column
        from {loaded.table}
        """
    )


def _ident(header: str) -> str:
    return '"' + header.replace('"', '""') + '"'


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.strip().lower().replace("'", "''") + "'" for v in values)


def _timestamp(text_expr: str, date_format: str | None) -> str:
    if text_expr == "null::varchar":
        return "null::timestamp"
    if date_format:
        fmt = date_format.replace("'", "''")
        return f"try_strptime({text_expr}, '{fmt}')"
    # Naive timestamps are taken as UTC (the session time zone); offsets are converted to UTC.
    return f"try_cast(try_cast({text_expr} as timestamptz) as timestamp)"


def _date_check(column: str, text_expr: str, parsed: str, required: bool) -> str:
    lo, hi = PLAUSIBLE_YEARS
    empty = f"when {text_expr} is null then '{column} is empty' " if required else ""
    return (
        f"case {empty}"
        f"when {text_expr} is not null and {parsed} is null "
        f"then '{column}: cannot read ''' || left({text_expr}, 40) || ''' as a date or timestamp' "
        f"when year({parsed}) not between {lo} and {hi} "
        f"then '{column}: ' || {parsed}::date || ' is outside {lo}-{hi}' end"
    )


def _number_check(column: str, text_expr: str) -> str:
    value = f"try_cast({text_expr} as double)"
    limit = {"amount": MAX_PLAUSIBLE_AMOUNT, "probability": 100}.get(column, 1e6)
    return (
        f"case when {text_expr} is not null and {value} is null "
        f"then '{column}: cannot read ''' || left({text_expr}, 40) || ''' as a number' "
        f"when not isfinite({value}) or {value} < 0 or {value} > {limit} "
        f"then '{column}: ' || {text_expr} || ' is not a plausible {column}' end"
    )
