"""What the CRM adapters share: recognising a file from its headers, and field-change logs.

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
from pipeline_analytics.ingest.files import LoadedFile
from pipeline_analytics.ingest.inference import crm_status_columns, record_crm_outcomes
from pipeline_analytics.ingest.locale import number_sql, timestamp_sql
from pipeline_analytics.ingest.staging import (
    combine_checks,
    date_check,
    file_locale,
    literal,
    sql_list,
    text_of,
)

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
    changed = timestamp_sql("changed_at", locale)
    reason, first_bad = combine_checks(
        [
            ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
            ("changed_at", date_check("changed_at", changed, required=True, locale=locale)),
        ]
    )
    con.execute(
        f"""
        create or replace temp table change_rows as
        select
            _row, deal_id, field_kind, old_text, new_text, {changed} as changed_at,
            exclude_reason,
            case when exclude_reason is null then nullif({reason}, '') end as reject_reason,
            case when exclude_reason is null then {first_bad} end as reject_column
        from (
            select
                _row, {text["deal_id"]} as deal_id, {kind_of} as field_kind,
                {old_text} as old_text, {new_text} as new_text,
                {text["changed_at"]} as changed_at,
                case
                    when {deleted_sql} then 'deleted in the CRM'
                    when ({kind_of}) is null
                        then 'not a tracked field: ' || coalesce({text["field"]}, '(none)')
                end as exclude_reason
            from {loaded.table}
        )
        """
    )
    con.execute(
        """
        create or replace temp table staged_history as
        select _row, deal_id, case when field_kind = 'stage' then new_text end as stage,
               changed_at, 'history' as origin, reject_reason, reject_column, exclude_reason
        from change_rows
        union all
        -- The stage a deal left at its first recorded change is the one it was created in.
        select _row, deal_id, old_text as stage, null::timestamp as changed_at, 'history',
               null, null, null
        from (
            select *, row_number() over (partition by deal_id order by changed_at, _row) as n
            from change_rows
            where field_kind = 'stage' and reject_reason is null and exclude_reason is null
        )
        where n = 1 and old_text is not null
        """
    )
    amount_old, amount_new = number_sql("old_text", locale), number_sql("new_text", locale)
    date_old, date_new = timestamp_sql("old_text", locale), timestamp_sql("new_text", locale)
    con.execute(
        f"""
        create or replace temp table staged_changes as
        select deal_id, field_kind as field,
               case field_kind
                   when 'amount' then ({amount_old})::varchar
                   when 'close_date' then strftime({date_old}, '%Y-%m-%d')
                   else lower(old_text) end as old_value,
               case field_kind
                   when 'amount' then ({amount_new})::varchar
                   when 'close_date' then strftime({date_new}, '%Y-%m-%d')
                   else lower(new_text) end as new_value,
               changed_at
        from change_rows
        where field_kind in ('amount', 'close_date', 'status')
          and reject_reason is null and exclude_reason is null
        """
    )
    con.execute("drop table change_rows")
