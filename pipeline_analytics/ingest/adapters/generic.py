"""The generic adapter: any CSV/XLSX/Parquet export described by a column mapping in the config.

Deals files become `staged_deals` through the shared staging (locale-aware numbers and dates,
the same checks as every adapter); history files (deal id, stage, changed at) become
`staged_history`. Columns the config does not map are found by their headers
(`aliases/generic.toml`). Status comes from the configured won/lost values of the status column
when it is mapped, else of the stage; without [sources.status] the values that mean won or lost
are inferred (`inference.infer_status`). A file named by `path` is deals and one named by
`history` is history; the files of a folder or glob are told apart by their headers.
"""

from __future__ import annotations

import logging

import duckdb

from pipeline_analytics.config import Source
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest import inference
from pipeline_analytics.ingest.adapters.common import Adapter
from pipeline_analytics.ingest.columns import (
    ExportKind,
    HeaderIndex,
    missing_columns_error,
)
from pipeline_analytics.ingest.files import LoadedFile, create_reading_view
from pipeline_analytics.ingest.locale import timestamp_sql
from pipeline_analytics.ingest.staging import (
    DealSpec,
    check_layers,
    date_check,
    file_locale,
    sql_list,
    stage_deals,
    text_of,
)
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

KINDS = {name: inference.generic_kind(name) for name in ("deals", "history")}
# The config table that maps each kind's columns (and names inferred settings).
CONFIG_TABLES = {"deals": "columns", "history": "history_columns"}


class GenericAdapter(Adapter):
    name = "generic"

    def reads_headers(self, key: str, named_file: bool) -> bool:
        # A file the config names is the kind of its key; only a folder's or glob's deals files
        # may hold history (which read as deals would overwrite them) or activities.
        return key == "path" and not named_file

    def recognise(self, headers: list[str], source: Source) -> str | None:
        """History or activities by headers (activities: None, skipped), else deals.

        Any other file is read as deals, whose reader says precisely what it lacks when it is
        not one.
        """
        kind = inference.recognise_generic(headers, source)
        if kind == "activities":
            return None
        return "history" if kind == "history" else "deals"

    def skip_note(self, headers: list[str], source: Source) -> str:
        return (
            'an activities export, skipped: name it in the config with activities = "<file>" '
            "(and [sources.activity_columns] if its headers are not the canonical names)"
        )

    def unrecognised(
        self, headers: list[str], source: Source, expected: str, file_label: str
    ) -> InputError:
        error = _mapped(headers, source, KINDS[expected], file_label)[2]
        return error or InputError(f"{file_label}: not a generic {expected} export")

    def columns(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> dict[str, str]:
        """Canonical column -> header in the file; a configured header that is missing is an error.

        Columns the config does not map are found by header (aliases/generic.toml) and recorded
        as inferred settings.
        """
        found, inferred = _resolved(loaded.headers, source, KINDS[kind], file_label)
        inference.record_columns(con, source.name, CONFIG_TABLES[kind], inferred)
        return found

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> LoadedFile:
        cols, _ = _resolved(loaded.headers, source, KINDS[kind], file_label)
        if kind == "deals":
            stage_deals(con, loaded, source, _deal_spec(con, loaded, source, cols), file_label)
        else:
            _stage_history(con, loaded, source, cols, file_label)
        return loaded

    def record_outcomes(
        self, con: duckdb.DuckDBPyConnection, source: Source, columns: dict[str, str]
    ) -> None:
        """Nothing more: staging inferred won and lost from the values (`_deal_spec`)."""


def _mapped(
    headers: list[str], source: Source, kind: ExportKind, file_label: str
) -> tuple[dict[str, str], dict[str, str], InputError | None]:
    """(columns found, those of them inferred, the error naming what is missing or None)."""
    table = CONFIG_TABLES[kind.name]
    mapping = source.columns if kind.name == "deals" else source.history_columns
    found, inferred, missing = inference.map_headers(headers, kind, mapping)
    if not missing:
        return found, inferred, None
    overrides = {c: mapping[c] for c in missing if c in mapping}
    error = missing_columns_error(
        file_label, HeaderIndex(headers), kind, missing, overrides, f"sources.{table}"
    )
    return found, inferred, error


def _resolved(
    headers: list[str], source: Source, kind: ExportKind, file_label: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(columns found, those inferred) of a file of `kind`; InputError when one is missing."""
    found, inferred, error = _mapped(headers, source, kind, file_label)
    if error is not None:
        raise error
    return found, inferred


def _deal_spec(
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


def _stage_history(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    source: Source,
    cols: dict[str, str],
    file_label: str,
) -> None:
    """Temp table `staged_history` (one stage change per row) from a mapped history file."""
    text = {c: text_of(cols[c]) for c in ("deal_id", "stage", "changed_at")}
    locale = file_locale(con, loaded, source, {}, {"changed_at": text["changed_at"]}, file_label)
    checks, failures = check_layers(
        [
            ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
            ("stage", "case when stage is null then 'stage is empty' end"),
            (
                "changed_at",
                date_check("changed_at", "changed_at_value", required=True, locale=locale),
            ),
        ]
    )
    typed = {"changed_at_value": timestamp_sql("changed_at", locale)}
    create_reading_view(con, "history_reading", loaded.table, text, typed, checks, failures)
    con.execute(sql_statement("ingest/generic_history_staged"))
    con.execute("drop view history_reading")
