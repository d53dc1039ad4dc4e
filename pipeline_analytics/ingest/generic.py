"""The generic adapter: any CSV/XLSX/Parquet export described by a column mapping in the config.

Deals files become `staged_deals` through the shared staging (locale-aware numbers and dates,
the same checks as every adapter); history files (deal id, stage, changed at) become
`staged_history`. Columns the config does not map are found by their headers
(`aliases/generic.toml`). Status comes from the configured won/lost values of the status column
when it is mapped, else of the stage; without [sources.status] the values that mean won or lost
are inferred (`inference.infer_status`).
"""

from __future__ import annotations

import duckdb

from pipeline_analytics.config import Config, Source
from pipeline_analytics.ingest import inference
from pipeline_analytics.ingest.columns import ExportKind, HeaderIndex, missing_columns_error
from pipeline_analytics.ingest.files import LoadedFile
from pipeline_analytics.ingest.locale import timestamp_sql
from pipeline_analytics.ingest.staging import (
    DealSpec,
    combine_checks,
    date_check,
    file_locale,
    sql_list,
    stage_deals,
    text_of,
)

DEALS_KIND = inference.generic_kind("deals")
HISTORY_KIND = inference.generic_kind("history")
# The config table that maps each kind's columns (and names inferred settings).
CONFIG_TABLES = {"deals": "columns", "history": "history_columns"}


def resolve_columns(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    source: Source,
    kind: ExportKind,
    file_label: str,
) -> dict[str, str]:
    """Canonical column -> header in the file; a configured header that is missing is an error.

    Columns the config does not map are found by header (aliases/generic.toml) and recorded as
    inferred settings.
    """
    table = CONFIG_TABLES[kind.name]
    mapping = source.columns if kind.name == "deals" else source.history_columns
    found, inferred, missing = inference.map_headers(loaded.headers, kind, mapping)
    if missing:
        overrides = {c: mapping[c] for c in missing if c in mapping}
        raise missing_columns_error(
            file_label, HeaderIndex(loaded.headers), kind, missing, overrides, f"sources.{table}"
        )
    inference.record_columns(con, source.name, table, inferred)
    return found


def deal_spec(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, cols: dict[str, str]
) -> DealSpec:
    text = {c: text_of(h) for c, h in cols.items()}
    status_value = text.get("status", text["stage"])
    status = source.status
    if not status.won:
        status, status_value, _ = inference.infer_status(
            con, loaded.table, source, text.get("status"), text["stage"]
        )
    won, lost = sql_list(status.won), sql_list(status.lost)
    return DealSpec(
        text=text,
        status=(
            f"case when lower({status_value}) in ({won}) then 'won' "
            f"when lower({status_value}) in ({lost}) then 'lost' else 'open' end"
        ),
    )


def stage_generic_deals(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    config: Config,
    source: Source,
    file_label: str,
) -> tuple[Config, Source]:
    """Create temp table `staged_deals` from a mapped deals file.

    Returns the config and source as read (with the reporting currency, when this file decided it).
    """
    cols = resolve_columns(con, loaded, source, DEALS_KIND, file_label)
    config = inference.decide_currency(
        con, config, loaded.table, cols.get("amount"), cols.get("currency")
    )
    source = next(s for s in config.sources if s.name == source.name)
    stage_deals(con, loaded, source, deal_spec(con, loaded, source, cols), file_label)
    return config, source


def stage_generic_history(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_history` (one stage change per row) from a mapped history file."""
    cols = resolve_columns(con, loaded, source, HISTORY_KIND, file_label)
    text = {c: text_of(h) for c, h in cols.items()}
    locale = file_locale(con, loaded, source, {}, {"changed_at": text["changed_at"]}, file_label)
    checks = [
        ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
        ("stage", "case when stage is null then 'stage is empty' end"),
        ("changed_at", date_check("changed_at", "changed_at_value", required=True, locale=locale)),
    ]
    reason, first_bad = combine_checks([(c, f"check_{i}") for i, (c, _) in enumerate(checks)])
    con.execute(
        f"""
        create or replace temp table staged_history as
        select
            _row, deal_id, stage, changed_at_value as changed_at, 'history' as origin,
            {reason} as reject_reason, {first_bad} as reject_column,
            null::varchar as exclude_reason
        from (
            select *, {", ".join(f"{expr} as check_{i}" for i, (_, expr) in enumerate(checks))}
            from (
                select *, {timestamp_sql("changed_at", locale)} as changed_at_value
                from (
                    select _row, {text["deal_id"]} as deal_id, {text["stage"]} as stage,
                           {text["changed_at"]} as changed_at
                    from {loaded.table}
                )
            )
        )
        """
    )
