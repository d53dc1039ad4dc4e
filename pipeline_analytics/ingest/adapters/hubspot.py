"""HubSpot: the deals export, with labels or internal names, and its per-stage date columns.

Status comes from "Is Closed Won" / "Is closed lost" when present, else from the stage (label or
the default pipeline's internal id) or its probability (1 is closed won, 0 closed lost).
Probability is 0-1. "Amount in company currency" is the CRM's own conversion, used as amount_base
when no rate is configured for the deal's currency.

Stage history comes from the "Date entered" columns of every stage of every pipeline
(`Date entered "Stage (Pipeline)"`, legacy `Date entered 'Stage (Pipeline)'`,
`hs_v2_date_entered_<id>`, `hs_date_entered_<id>`) as stage changes with origin `stage_dates`.
HubSpot keeps only the latest entry per stage, so a deal that went back to an earlier stage shows
only its last stint there; exits are the next stage's entry (the "Date exited" and "time in"
columns add nothing to that, and their unit differs between sources).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from pipeline_analytics.config import DEAL_COLUMNS, Source
from pipeline_analytics.ingest.adapters.common import CrmAdapter
from pipeline_analytics.ingest.files import LoadedFile, create_reading_view
from pipeline_analytics.ingest.locale import Locale, timestamp_sql
from pipeline_analytics.ingest.staging import (
    DealSpec,
    literal,
    sql_list,
    stage_deals,
    text_of,
)
from pipeline_analytics.sql_files import sql_statement

# One "Date entered" value of a deal: the stage and pipeline its column names, and when.
STAGE_ENTRY = "struct(stage varchar, pipeline varchar, entered_at timestamp)"


@dataclass(frozen=True)
class StageDateColumn:
    header: str
    stage: str
    pipeline: str | None  # None for internal-name columns, which carry only the stage id
    current_family: bool  # the newer family wins when both families name the same stage


class HubSpotAdapter(CrmAdapter):
    name = "hubspot"

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> LoadedFile:
        cols = self.found_columns(loaded, source, kind)
        stage_columns = self.stage_date_columns(loaded.headers)
        entered = _entered_per_stage(stage_columns)
        spec = self._deal_spec(source, cols, entered)
        locale = stage_deals(con, loaded, source, spec, file_label)
        self._stage_history(con, loaded, entered, locale)
        return loaded

    def stage_date_columns(self, headers: list[str]) -> list[StageDateColumn]:
        """The per-stage "Date entered" columns, parsed into (stage label, pipeline label)."""
        labels = "|".join(re.escape(p) for p in self.aliases.value_list("stage_entered_labels"))
        labelled = re.compile(rf"^\s*(?:{labels})\s*([\"'])(.+)\1\s*$", re.IGNORECASE)
        internal = re.compile(
            "^("
            + "|".join(map(re.escape, self.aliases.value_list("stage_entered_internal")))
            + ")(.+)$"
        )
        stage_ids = self.aliases.tables.get("stage_ids", {})
        found = []
        for header in headers:
            if match := labelled.match(header):
                stage, pipeline = _split_pipeline(match.group(2))
                found.append(StageDateColumn(header, stage, pipeline, match.group(1) == '"'))
            elif match := internal.match(header):
                current = match.group(1) == self.aliases.value_list("stage_entered_internal")[0]
                stage_id = match.group(2)
                found.append(
                    StageDateColumn(header, stage_ids.get(stage_id, stage_id), None, current)
                )
        return found

    def _label_sql(self, text_expr: str, table: str) -> str:
        """Internal ids (default pipeline) shown as their labels; other values unchanged."""
        ids = self.aliases.tables.get(table, {})
        if not ids:
            return text_expr
        whens = " ".join(f"when {literal(k)} then {literal(v)}" for k, v in ids.items())
        return f"case lower({text_expr}) {whens} else {text_expr} end"

    def _deal_spec(
        self,
        source: Source,
        cols: dict[str, str],
        entered: dict[tuple[str, str | None], list[StageDateColumn]],
    ) -> DealSpec:
        text = {c: text_of(h) for c, h in cols.items() if c in (*DEAL_COLUMNS, "amount_base")}
        text["stage"] = self._label_sql(text["stage"], "stage_ids")
        if "pipeline" in text:
            text["pipeline"] = self._label_sql(text["pipeline"], "pipeline_ids")
        stage = text["stage"]
        won_stages = source.status.won or self.aliases.value_list("won_stages")
        lost_stages = source.status.lost or self.aliases.value_list("lost_stages")
        won = f"lower({stage}) in ({sql_list(won_stages)})"
        lost = f"lower({stage}) in ({sql_list(lost_stages)})"
        if not source.status.won and "probability" in text:
            # A HubSpot stage's probability is 1 exactly when it is a closed-won stage and 0 when
            # closed-lost: renamed or custom closing stages are known by it.
            probability = f"try_cast({text['probability']} as double)"
            won, lost = f"({won} or {probability} = 1)", f"({lost} or {probability} = 0)"
        if not source.status.won:
            if "is_closed_won" in cols:
                won = self.truthy(text_of(cols["is_closed_won"]))
            if "is_closed_lost" in cols:
                lost = self.truthy(text_of(cols["is_closed_lost"]))
        return DealSpec(
            text=text,
            status=f"case when {won} then 'won' when {lost} then 'lost' else 'open' end",
            probability_scale=1,
            extra_dates={c.header: text_of(c.header) for cs in entered.values() for c in cs},
        )

    def _stage_history(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        entered: dict[tuple[str, str | None], list[StageDateColumn]],
        locale: Locale,
    ) -> None:
        """staged_history: one stage change per filled "Date entered" column of a loaded deal."""
        entries = []
        for (stage, pipeline), columns in entered.items():
            value = "coalesce(" + ", ".join(text_of(c.header) for c in columns) + ")"
            entries.append(
                f"{{'stage': {literal(stage)}, "
                f"'pipeline': {literal(pipeline) if pipeline else 'null::varchar'}, "
                f"'entered_at': {timestamp_sql(value, locale)}}}"
            )
        # Each line's entries as one list, typed even when the file has no such column.
        listed = f"[{', '.join(entries)}]::{STAGE_ENTRY}[]"
        create_reading_view(con, "hubspot_stage_entries", loaded.table, {"entries": listed})
        con.execute(sql_statement("ingest/hubspot_history_staged"))
        con.execute("drop view hubspot_stage_entries")


def _split_pipeline(label: str) -> tuple[str, str | None]:
    """'Closed Won (Sales Pipeline)' -> ('Closed Won', 'Sales Pipeline'); the last (...) wins."""
    match = re.match(r"^(.*)\(([^()]*)\)\s*$", label)
    if not match or not match.group(1).strip():
        return label.strip(), None
    return match.group(1).strip(), match.group(2).strip()


def _entered_per_stage(
    columns: list[StageDateColumn],
) -> dict[tuple[str, str | None], list[StageDateColumn]]:
    """Columns per (stage, pipeline), the current family first."""
    grouped: dict[tuple[str, str | None], list[StageDateColumn]] = {}
    for column in sorted(columns, key=lambda c: not c.current_family):
        grouped.setdefault((column.stage, column.pipeline), []).append(column)
    return grouped
