"""Pipedrive: the deals export (any language) and, optionally, the deal flow for full history.

The deals export has a status column (open / won / lost / deleted, or the export language's
words); deleted deals are excluded and counted. A won or lost deal keeps the stage it was in, and
its close time is the won or lost time ("Deal closed on" as a fallback). Probability is 0-100.

The deals export has no stage history, only the last stage change; history then builds up from
successive exports (stage events with origin `snapshots`). The deal flow (API
`/deals/{id}/flow` saved as JSON, or a CSV of its fields) gives every stage change; its value,
expected-close-date and status changes go to `deal_changes`.
"""

from __future__ import annotations

import duckdb

from pipeline_analytics.config import DEAL_COLUMNS, Source
from pipeline_analytics.ingest.adapters.common import CrmAdapter, stage_field_changes
from pipeline_analytics.ingest.files import LoadedFile
from pipeline_analytics.ingest.staging import DealSpec, sql_list, stage_deals, text_of


class PipedriveAdapter(CrmAdapter):
    name = "pipedrive"

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> LoadedFile:
        cols = self.found_columns(loaded, source, kind)
        if kind == "deals":
            stage_deals(con, loaded, source, self._deal_spec(source, cols), file_label)
        else:
            stage_field_changes(
                con,
                loaded,
                source,
                cols,
                self.aliases.field_names("stage", "amount", "close_date", "status"),
                "false",
                file_label,
            )
        return loaded

    def _deal_spec(self, source: Source, cols: dict[str, str]) -> DealSpec:
        text = {c: text_of(h) for c, h in cols.items() if c in DEAL_COLUMNS}
        status = f"lower({text['status']})"
        won = sql_list(source.status.won or self.aliases.value_list("won"))
        lost = sql_list(source.status.lost or self.aliases.value_list("lost"))
        deleted = f"coalesce({status} in ({sql_list(self.aliases.value_list('deleted'))}), false)"
        won_time = text_of(cols["won_time"]) if "won_time" in cols else "null::varchar"
        lost_time = text_of(cols["lost_time"]) if "lost_time" in cols else "null::varchar"
        text["closed_at"] = (
            f"coalesce(case when {status} in ({won}) then {won_time} end, "
            f"case when {status} in ({lost}) then {lost_time} end, "
            f"{text.get('closed_at', 'null::varchar')})"
        )
        return DealSpec(
            text=text,
            status=f"case when {status} in ({won}) then 'won' "
            f"when {status} in ({lost}) then 'lost' else 'open' end",
            exclude=f"case when {deleted} then 'deleted in Pipedrive (status deleted)' end",
            deleted=deleted,
            probability_scale=100,
        )
