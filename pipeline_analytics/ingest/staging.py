"""Canonical staging tables built in SQL from a loaded export, the same for every adapter.

An adapter says how to read its file as SQL text expressions over the loaded all-text table (a
`DealSpec` for deals); this module types the values with the file's locale, checks them (through
the temp view `deal_reading`, whose layers hold the expressions: text, values, checks, verdicts),
and writes temp table `staged_deals` (sql/ingest/staged_deals_create.sql), which
`batches` and `deals` turn into warehouse rows. Every input row keeps its
line (`_row`) and gets at most one of `reject_reason` (bad data: goes to `rejected_rows`) and
`exclude_reason` (not a live deal: deleted in the CRM, a report's total row: counted only).

The other staging tables adapters create directly, with these columns:
- `staged_history`: _row, deal_id, stage, changed_at, origin, reject_reason, reject_column,
  exclude_reason. `stage` NULL: a valid row that records no stage (e.g. an amount edit).
  `changed_at` NULL on a row with a stage: the stage the deal had from its creation.
- `staged_changes`: deal_id, field ('amount', 'close_date', 'status'), old_value, new_value,
  changed_at: edits kept for slippage analysis (`deal_changes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipeline_analytics.config import DEAL_COLUMNS, Source
from pipeline_analytics.ingest import temp_tables
from pipeline_analytics.ingest.files import LoadedFile, create_reading_view
from pipeline_analytics.ingest.forecast_category import normalized_sql, warn_unknown_categories
from pipeline_analytics.ingest.inferred_settings import record_inference
from pipeline_analytics.ingest.locale import (
    Locale,
    amount_currency_check,
    amount_currency_sql,
    deal_currency_sql,
    detect_locale,
    is_iso_layout,
    number_sql,
    timestamp_sql,
)
from pipeline_analytics.sql_files import sql_statement

TEXT_COLUMNS = (
    "name",
    "account",
    "owner",
    "pipeline",
    "lead_source",
    "deal_type",
    "currency",
    "segment",
    "lead_id",
    "forecast_category",
)
TIMESTAMP_COLUMNS = ("created_at", "closed_at", "stage_changed_at", "updated_at")
DATE_COLUMNS = (*TIMESTAMP_COLUMNS, "expected_close_date")
NUMBER_COLUMNS = ("amount", "amount_base", "probability", "activity_count")
# Dates before this or after this are typos or placeholders (1900-01-01, 2999-12-31), not events.
PLAUSIBLE_YEARS = (1980, 2100)
# Above this an amount is a data-entry accident (a pasted phone number), not a deal.
MAX_PLAUSIBLE_AMOUNT = 1e12
# Longer than any real name, owner or id: a broken export (a whole file pasted into one cell).
MAX_TEXT_LENGTH = 10_000
NUMBER_LIMITS = {
    "amount": MAX_PLAUSIBLE_AMOUNT,
    "amount_base": MAX_PLAUSIBLE_AMOUNT,
    "activity_count": 1e6,
}


@dataclass(frozen=True)
class DealSpec:
    """How an adapter reads a deals file, as SQL over the loaded all-text table.

    text: canonical column -> SQL text expression (NULL when empty); absent columns stay NULL.
      `amount_base` is an amount the export already gives in the reporting currency.
    status: SQL giving 'won', 'lost' or 'open'.
    exclude: SQL giving why a row is not a live deal (or NULL); deleted: SQL true for rows
      deleted in the CRM (they also remove the deal from the warehouse).
    probability_scale: 100 when the export writes 0-100, 1 for 0-1, None to decide from the
      column (any value above 1 means percent).
    extra_dates: more date columns the file carries (e.g. HubSpot's per-stage dates), as
      name -> SQL text expression: read with the file's locale and checked like the others.
    """

    text: dict[str, str]
    status: str
    exclude: str = "null"
    deleted: str = "false"
    probability_scale: float | None = None
    extra_dates: dict[str, str] = field(default_factory=dict)


def text_of(header: str) -> str:
    """SQL text of a column of the loaded table: trimmed, empty as NULL."""
    return trimmed_text(ident(header))


def trimmed_text(expr: str) -> str:
    """SQL for `nullif(trim(expr), '')`, trimming only values that can need it.

    DuckDB's trim removes Unicode space separators; they are ASCII spaces or non-ASCII characters,
    so values with neither at an end pass untouched. Skipping trim on them is 5-9x faster over a
    10M-row column, the difference between seconds and a fraction of one per column.
    """
    needs_trim = f"{expr} like ' %' or {expr} like '% ' or strlen({expr}) <> length({expr})"
    return f"case when {needs_trim} then nullif(trim({expr}), '') else nullif({expr}, '') end"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL IN-list of lower-cased string literals."""
    return ", ".join(literal(v.strip().lower()) for v in values) or "null"


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def file_locale(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    source: Source,
    number_exprs: dict[str, str],
    date_exprs: dict[str, str],
    file_label: str,
) -> Locale:
    """The file's number and date conventions: config settings first, else its values decide.

    A date layout read from the values (other than ISO 8601, which needs no setting) is recorded
    as an inferred setting, `date_format.<column>`.
    """
    locale = detect_locale(
        con,
        loaded.table,
        number_exprs,
        date_exprs,
        decimal=source.decimal,
        date_order=source.date_order,
        date_format=source.date_format,
        delimiter=loaded.delimiter,
        file_label=file_label,
        source_name=source.name,
    )
    for column, layout in locale.date_formats.items():
        if not is_iso_layout(layout):
            record_inference(con, source.name, f"date_format.{column}", layout, "values")
    return locale


def stage_deals(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    source: Source,
    spec: DealSpec,
    file_label: str,
) -> Locale:
    """Create temp table `staged_deals` from `spec`; returns the locale used to read the file."""
    # `status` is decided by spec.status (which may read the mapped status column itself).
    text = {
        c: spec.text.get(c, "null::varchar")
        for c in (*DEAL_COLUMNS, "amount_base")
        if c != "status"
    }
    mapped = set(spec.text)
    if "forecast_category" in mapped:  # every CRM's spelling of the rep's call: one of five names
        text["forecast_category"] = normalized_sql(text["forecast_category"])
    locale = file_locale(
        con,
        loaded,
        source,
        {c: text[c] for c in NUMBER_COLUMNS if c in mapped},
        {**{c: text[c] for c in DATE_COLUMNS if c in mapped}, **spec.extra_dates},
        file_label,
    )
    extra = {f"extra_{i}": label for i, label in enumerate(spec.extra_dates)}
    fields = {
        **text,
        **dict(zip(extra, spec.extra_dates.values(), strict=True)),
        "status": spec.status,
        "exclude_reason": spec.exclude,
        "deleted": f"coalesce({spec.deleted}, false)",
    }
    # Each value is parsed once (`<column>_value`) and each check computed once (`check_<n>`).
    parsed = {
        **{f"{c}_value": number_sql(c, locale) for c in NUMBER_COLUMNS},
        **{f"{c}_value": timestamp_sql(c, locale) for c in DATE_COLUMNS},
        **{f"{c}_value": timestamp_sql(c, locale, label) for c, label in extra.items()},
        "amount_currency": amount_currency_sql("amount"),  # `JPY 150,000,000`: JPY
    }
    checks, verdicts = check_layers(
        [
            ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
            ("deal_id", too_long_check("deal_id")),
            ("stage", "case when stage is null then 'stage is empty' end"),
            ("stage", too_long_check("stage")),
            # A deal without a creation date loads (left out of cycle and cohort figures only); an
            # unreadable one is still a reject.
            *[(c, date_check(c, f"{c}_value", locale=locale)) for c in DATE_COLUMNS if c in mapped],
            *[(c, number_check(c, f"{c}_value", spec)) for c in NUMBER_COLUMNS if c in mapped],
            (
                "amount",
                amount_currency_check(
                    "amount", "amount_currency", "currency", source.currency, source.name
                ),
            ),
            *[(c, too_long_check(c)) for c in TEXT_COLUMNS if c in mapped],
            *[
                (label, date_check(c, f"{c}_value", label=label, locale=locale))
                for c, label in extra.items()
            ],
        ]
    )
    verdicts["deal_currency"] = deal_currency_sql("currency", "amount_currency", source.currency)
    scale = spec.probability_scale or _probability_scale(con, loaded, text, locale, mapped)
    create_reading_view(
        con, temp_tables.DEAL_READING, loaded.table, fields, parsed, checks, verdicts
    )
    try:
        con.execute(sql_statement("ingest/staged_deals_create"), {"probability_scale": scale})
    finally:
        temp_tables.drop_views(con, temp_tables.DEAL_READING)
    if "forecast_category" in mapped:
        warn_unknown_categories(con, file_label)
    return locale


def _probability_scale(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    text: dict[str, str],
    locale: Locale,
    mapped: set[str],
) -> float:
    """100 when any probability in the file is above 1 (written 0-100), else 1."""
    if "probability" not in mapped:
        return 1
    value = number_sql(text["probability"], locale)
    above_one = con.execute(f"select max({value}) > 1 from {loaded.table}").fetchall()[0][0]
    return 100 if above_one else 1


def check_layers(checks: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Reading-view layers for `(column, check SQL)` pairs: each check computed once
    (`check_<n>`), then `failures` (every failure, joined) and `failed_column` (the first's)."""
    computed = {f"check_{i}": expr for i, (_, expr) in enumerate(checks)}
    reason, first_bad = combine_checks([(c, f"check_{i}") for i, (c, _) in enumerate(checks)])
    return computed, {"failures": reason, "failed_column": first_bad}


def combine_checks(checks: list[tuple[str, str]]) -> tuple[str, str]:
    """(all failure reasons joined, the column of the first failure) as SQL.

    Pass column names of computed checks where possible: each expression appears twice here.
    """
    failures = ", ".join(expr for _, expr in checks)
    # Good rows (all checks NULL) skip building the joined string.
    reason = f"case when coalesce({failures}) is not null then concat_ws('; ', {failures}) end"
    first_bad = (
        "coalesce("
        + ", ".join(f"case when ({e}) is not null then {literal(c)} end" for c, e in checks)
        + ")"
    )
    return reason, first_bad


def date_check(
    column: str,
    parsed: str,
    *,
    required: bool = False,
    label: str = "",
    locale: Locale | None = None,
) -> str:
    """SQL giving why the text column `column` is not a usable date (or NULL).

    `label` names the column in the message when its SQL name is not the one users know;
    with `locale`, the message gives the date_format that would read the value, when one does.
    """
    lo, hi = PLAUSIBLE_YEARS
    name = (label or column).replace("'", "''")
    empty = f"when {column} is null then '{name} is empty' " if required else ""
    hint = locale.date_hints.get(label or column) if locale else None
    fix = f"|| {literal('; ' + hint)} " if hint else ""
    return (
        f"case {empty}"
        f"when {column} is not null and {parsed} is null "
        f"then '{name}: cannot read ''' || left({column}, 40) || ''' as a date or timestamp' {fix}"
        # infinity and -infinity read as timestamps but have no year: checked before the range.
        f"when not isfinite({parsed}) "
        f"then '{name}: ''' || left({column}, 40) || ''' is not a finite date' "
        f"when year({parsed}) not between {lo} and {hi} "
        f"then '{name}: ' || strftime({parsed}, '%Y-%m-%d') || ' is outside {lo}-{hi}' end"
    )


def number_check(column: str, parsed: str, spec: DealSpec) -> str:
    """SQL giving why the text column `column` is not a plausible number (or NULL)."""
    # Probability is checked before scaling: at most 100 (percent) or 1 (a 0-1 export).
    limit = (spec.probability_scale or 100) if column == "probability" else NUMBER_LIMITS[column]
    return (
        f"case when {column} is not null and {parsed} is null "
        f"then '{column}: cannot read ''' || left({column}, 40) || ''' as a number' "
        f"when not isfinite({parsed}) or {parsed} < 0 or {parsed} > {limit} "
        f"then '{column}: ' || left({column}, 40) || ' is not a plausible {column}' end"
    )


def too_long_check(column: str) -> str:
    return (
        f"case when length({column}) > {MAX_TEXT_LENGTH} then '{column}: ' || length({column}) "
        f"|| ' characters, longer than any real value (limit {MAX_TEXT_LENGTH})' end"
    )
