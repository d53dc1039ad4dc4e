"""The generic adapter: any CSV/XLSX/Parquet export described by a column mapping in the config.

Deals files become `staged_deals` through the shared staging (locale-aware numbers and dates,
the same checks as every adapter); history files (deal id, stage, changed at) become
`staged_history`. Status comes from the configured won/lost values of the status column when it is
mapped, else of the stage.
"""

from __future__ import annotations

import duckdb

from pipeline_analytics.config import DEAL_COLUMNS, HISTORY_COLUMNS, REQUIRED_DEAL_COLUMNS, Source
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

DEALS_KIND = ExportKind(
    name="deals",
    description="deals export",
    required=REQUIRED_DEAL_COLUMNS,
    aliases={c: (c,) for c in DEAL_COLUMNS},
)
HISTORY_KIND = ExportKind(
    name="history",
    description="stage history export",
    required=HISTORY_COLUMNS,
    aliases={c: (c,) for c in HISTORY_COLUMNS},
)


def resolve_columns(
    loaded: LoadedFile, mapping: dict[str, str], kind: ExportKind, file_label: str
) -> dict[str, str]:
    """Canonical column -> header in the file; a configured header that is missing is an error.

    Columns the config does not map are picked up when a header is named like them.
    """
    index = HeaderIndex(loaded.headers)
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for canonical in kind.aliases:
        wanted = mapping.get(canonical)
        found = index.find(wanted or canonical)
        if found is not None:
            resolved[canonical] = found
        elif wanted is not None or canonical in kind.required:
            missing.append(canonical)
    if missing:
        overrides = {c: mapping.get(c, c) for c in missing}
        table = "sources.columns" if kind is DEALS_KIND else "sources.history_columns"
        raise missing_columns_error(file_label, index, kind, missing, overrides, table)
    return resolved


def deal_spec(loaded: LoadedFile, source: Source, file_label: str) -> DealSpec:
    cols = resolve_columns(loaded, source.columns, DEALS_KIND, file_label)
    text = {c: text_of(h) for c, h in cols.items()}
    status_value = text.get("status", text["stage"])
    won, lost = sql_list(source.status.won), sql_list(source.status.lost)
    return DealSpec(
        text=text,
        status=(
            f"case when lower({status_value}) in ({won}) then 'won' "
            f"when lower({status_value}) in ({lost}) then 'lost' else 'open' end"
        ),
    )


def stage_generic_deals(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_deals` from a mapped deals file."""
    stage_deals(con, loaded, source, deal_spec(loaded, source, file_label), file_label)


def stage_generic_history(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_history` (one stage change per row) from a mapped history file."""
    cols = resolve_columns(loaded, source.history_columns, HISTORY_KIND, file_label)
    text = {c: text_of(h) for c, h in cols.items()}
    locale = file_locale(con, loaded, source, {}, {"changed_at": text["changed_at"]}, file_label)
    checks = [
        ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
        ("stage", "case when stage is null then 'stage is empty' end"),
        ("changed_at", date_check("changed_at", "changed_at_value", required=True)),
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
