"""The adapter interface every adapter implements, and what the CRM adapters share: recognising
a file from its headers, and field-change logs.

A CRM adapter reads several kinds of export file (deals, stage history, the CRM's stage table),
each described in its alias file. A file is recognised as the first kind whose required fields
all resolve (directly or through a stand-in, such as a deal's name for a missing id), so a folder
of exports can be pointed at as a whole.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod

import duckdb

from pipeline_analytics.config import Source
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest.columns import (
    AdapterAliases,
    HeaderIndex,
    load_aliases,
    missing_columns_error,
    missing_fields_text,
    resolve_kind,
)
from pipeline_analytics.ingest.files import LoadedFile, create_reading_view
from pipeline_analytics.ingest.inference import crm_status_columns, record_crm_outcomes
from pipeline_analytics.ingest.locale import number_sql, timestamp_sql
from pipeline_analytics.ingest.staging import (
    check_layers,
    date_check,
    file_locale,
    literal,
    sql_list,
    text_of,
)
from pipeline_analytics.sql_files import sql_statement

# The config table whose entries override a kind's aliases.
OVERRIDE_TABLES = {"deals": "sources.columns", "history": "sources.history_columns"}


class Adapter(ABC):
    """What ingest asks of every adapter, the generic one and the CRMs' alike.

    Ingest plans a source's files with `reads_headers`, `recognise`, `skip_note` and
    `unrecognised`; it reads a file's `columns` (a deals file's amount and currency decide the
    reporting currency), has the adapter `stage` it and, for a deals file, `record_outcomes`.
    """

    name = ""

    def reads_headers(self, key: str, named_file: bool) -> bool:
        """Whether the kind of a file named by config key `key` comes from its headers."""
        return True

    @abstractmethod
    def recognise(self, headers: list[str], source: Source) -> str | None:
        """The kind of export these headers belong to, or None."""

    @abstractmethod
    def skip_note(self, headers: list[str], source: Source) -> str:
        """Why a file of a folder that `recognise` reads as no kind is skipped, and what to do."""

    @abstractmethod
    def unrecognised(
        self, headers: list[str], source: Source, expected: str, file_label: str
    ) -> InputError:
        """Why a file is not the `expected` kind of export, naming what is missing."""

    @abstractmethod
    def columns(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> dict[str, str]:
        """field -> header of a file of `kind`."""

    @abstractmethod
    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> LoadedFile:
        """Create the staging tables for a file of `kind`; returns the file as finally counted."""

    @abstractmethod
    def record_outcomes(
        self, con: duckdb.DuckDBPyConnection, source: Source, columns: dict[str, str]
    ) -> None:
        """After a deals file is staged: record what decided its deals' won and lost."""


class CrmAdapter(Adapter):
    """An adapter driven by its alias file; subclasses stage each kind of file."""

    @property
    def aliases(self) -> AdapterAliases:
        return load_aliases(self.name)

    def overrides(self, source: Source, kind: str) -> dict[str, str]:
        if kind == "deals":
            return source.columns
        if kind == "history":
            return source.history_columns
        return {}

    def recognise(self, headers: list[str], source: Source) -> str | None:
        """The kind of export these headers belong to, or None."""
        index = self.index(headers)
        for kind in self.aliases.kinds:
            _, missing = resolve_kind(index, kind, self.overrides(source, kind.name))
            if not missing:
                return kind.name
        return None

    def skip_note(self, headers: list[str], source: Source) -> str:
        """Why a file of a folder is no kind this adapter reads: per kind, the headers it lacks."""
        index = self.index(headers)
        lacks = []
        for kind in self.aliases.kinds:
            _, missing = resolve_kind(index, kind, self.overrides(source, kind.name))
            article = "an" if kind.name[0] in "aeio" else "a"  # "a users file"
            lacks.append(f"{article} {kind.name} file needs {missing_fields_text(kind, missing)}")
        return (
            f"not a {self.name} export this adapter reads: "
            + "; ".join(lacks)
            + f"; headers found: {', '.join(repr(h) for h in headers[:12])}"
            + (f", ... ({len(headers)} headers)" if len(headers) > 12 else "")
            + "; if it is a deals or history export under other headers, name them in "
            "[sources.columns] or [sources.history_columns]; skipped"
        )

    def unrecognised(
        self, headers: list[str], source: Source, expected: str, file_label: str
    ) -> InputError:
        index = self.index(headers)
        kind = self.aliases.kind(expected)
        overrides = self.overrides(source, expected)
        _, missing = resolve_kind(index, kind, overrides)
        table = OVERRIDE_TABLES.get(expected, "sources.columns")
        return missing_columns_error(file_label, index, kind, missing, overrides, table)

    def index(self, headers: list[str]) -> HeaderIndex:
        return HeaderIndex(headers, self.aliases.entity_prefixes)

    def columns(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> dict[str, str]:
        return self.found_columns(loaded, source, kind)

    def found_columns(self, loaded: LoadedFile, source: Source, kind: str) -> dict[str, str]:
        """field -> header of a recognised file."""
        found, _ = resolve_kind(
            self.index(loaded.headers), self.aliases.kind(kind), self.overrides(source, kind)
        )
        return found

    def record_outcomes(
        self, con: duckdb.DuckDBPyConnection, source: Source, columns: dict[str, str]
    ) -> None:
        record_crm_outcomes(con, source, crm_status_columns(self.name, columns))

    def truthy(self, text_expr: str) -> str:
        """SQL: a checkbox column is ticked (1, true, yes, sì, ...)."""
        return (
            f"coalesce(lower({text_expr}) in ({sql_list(self.aliases.value_list('true'))}), false)"
        )


def exclude_footer_lines(loaded: LoadedFile, patterns: tuple[str, ...]) -> LoadedFile:
    """Move report footer lines (grand totals, disclaimers, blank lines) from rejects to excluded.

    They are lines of one or two fields that a report export appends after the data.
    """
    footer = [re.compile(p, re.IGNORECASE) for p in patterns]
    kept, excluded = [], []
    for line, reason, raw in loaded.structural_rejects:
        text = raw.replace('"', "").strip().strip(",;\t").strip()
        if not text or any(p.search(text) for p in footer):
            excluded.append((line, text))
        else:
            kept.append((line, reason, raw))
    return dataclasses.replace(
        loaded, structural_rejects=kept, excluded_lines=[*loaded.excluded_lines, *excluded]
    )


def stage_field_changes(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    source: Source,
    cols: dict[str, str],
    tracked: dict[str, tuple[str, ...]],
    deleted_sql: str,
    file_label: str,
) -> None:
    """Stage a log of field changes (deal, field, old, new, when) as history and edits.

    `tracked` maps 'stage', 'amount', 'close_date', 'status' to the field keys the CRM writes for
    them. Stage changes go to `staged_history`; a deal's first stage change also records the
    stage it left as held since creation. Amount, close-date and status edits go to
    `staged_changes`. Rows of other fields are valid but excluded (counted, not loaded).
    """
    text = {f: text_of(h) for f, h in cols.items()}
    old_text = f"coalesce({text.get('old_label', 'null')}, {text['old_value']})"
    new_text = f"coalesce({text.get('new_label', 'null')}, {text['new_value']})"
    kind_of = (
        "case "
        + " ".join(
            f"when lower({text['field']}) in ({sql_list(keys)}) then {literal(kind)}"
            for kind, keys in tracked.items()
        )
        + " end"
    )
    locale = file_locale(
        con,
        loaded,
        source,
        {"value": text["new_value"]},
        {"changed_at": text["changed_at"]},
        file_label,
    )
    checks, failures = check_layers(
        [
            ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
            (
                "changed_at",
                date_check("changed_at", "changed_at_value", required=True, locale=locale),
            ),
        ]
    )
    fields = {
        "deal_id": text["deal_id"],
        "field_kind": kind_of,
        "old_text": old_text,
        "new_text": new_text,
        "changed_at": text["changed_at"],
        "exclude_reason": (
            f"case when {deleted_sql} then 'deleted in the CRM' when ({kind_of}) is null "
            f"then 'not a tracked field: ' || coalesce({text['field']}, '(none)') end"
        ),
    }
    typed = {"changed_at_value": timestamp_sql("changed_at", locale)}
    create_reading_view(con, "field_change_reading", loaded.table, fields, typed, checks, failures)
    con.execute(sql_statement("ingest/common_field_change_rows"))
    con.execute("drop view field_change_reading")
    con.execute(sql_statement("ingest/common_field_change_history"))
    # The edits' old and new values, typed with the file's locale (only edits' rows are read).
    edits = {
        **{c: c for c in ("deal_id", "field_kind", "old_text", "new_text", "changed_at")},
        **{c: c for c in ("reject_reason", "exclude_reason")},
        "old_amount": number_sql("old_text", locale),
        "new_amount": number_sql("new_text", locale),
        "old_date": timestamp_sql("old_text", locale),
        "new_date": timestamp_sql("new_text", locale),
    }
    create_reading_view(con, "field_change_values", "change_rows", edits)
    con.execute(sql_statement("ingest/common_field_change_edits"))
    con.execute("drop view field_change_values")
    con.execute("drop table change_rows")
