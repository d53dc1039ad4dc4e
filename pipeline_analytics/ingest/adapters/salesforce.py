"""Salesforce: Opportunity, OpportunityHistory, OpportunityFieldHistory, OpportunityStage, names.

Data Export files carry API names; report exports carry labels (in the user's language), money
with symbols and separators, and footer lines, which are counted as excluded. Status comes from
IsWon/IsClosed when the file has them, else from the stage: OpportunityStage's flags when that
file was loaded, else the default won/lost stage names (or [sources.status]). Rows with
IsDeleted = 1 are excluded and counted. Probability is 0-100.

OpportunityHistory writes a row on every save that changes stage, amount, probability or close
date. The rows where the stage differs from the deal's previous row are stage changes; amount and
close-date differences between consecutive rows are kept in `deal_changes`, and so is the
forecast category (ForecastCategory) a row sets or changes, as field `forecast_category`.

Exports people make with Data Loader or Workbench carry relationship headers (`Account.Name`,
`Owner.Name`) and may lack the Id: deals are then keyed on their name, and deals sharing a name
in the file on the name and their creation time (`Acme - Renewal [2023-11-06 11:00:31]`, then
` #2`, ` #3` in line order where that is missing or repeats). A history keyed on the opportunity's
name finds each deal through the names of the source's deals loaded so far: a name several deals
carry links to the one created last by the history row's time (a name no deal has is kept as the
key, which is the deal id when the deals were keyed on names too). A Data Export
opportunity file's StageSortOrder/IsClosed/IsWon/Probability give the source's stage table
(`source_stages`) as far as its deals show it. User.csv and Account.csv become `crm_names`, the
names shown for the owner and account ids on deals.
"""

from __future__ import annotations

import logging

import duckdb

from pipeline_analytics.config import DEAL_COLUMNS, Source
from pipeline_analytics.ingest.adapters.common import (
    CrmAdapter,
    exclude_footer_lines,
    stage_field_changes,
)
from pipeline_analytics.ingest.columns import uses_stand_in
from pipeline_analytics.ingest.files import LoadedFile, create_reading_view
from pipeline_analytics.ingest.forecast_category import normalized_sql
from pipeline_analytics.ingest.locale import number_sql, timestamp_sql
from pipeline_analytics.ingest.staging import (
    DealSpec,
    check_layers,
    date_check,
    file_locale,
    literal,
    sql_list,
    stage_deals,
    text_of,
)
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)
# Repeated names listed in the warning about deals keyed on their name.
NAMES_LISTED = 5


class SalesforceAdapter(CrmAdapter):
    name = "salesforce"

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        kind: str,
        file_label: str,
    ) -> LoadedFile:
        loaded = exclude_footer_lines(loaded, self.aliases.value_list("report_footer"))
        cols = self.found_columns(loaded, source, kind)
        if kind == "deals":
            stage_deals(con, loaded, source, self._deal_spec(loaded, source, cols), file_label)
            if uses_stand_in(cols, self.aliases.kind(kind), "deal_id"):
                _key_repeated_names(con, source.name, cols["deal_id"], file_label)
            if "stage_sort_order" in cols:
                _stage_stages_from_deals(con, loaded, cols, file_label)
        elif kind in ("users", "accounts"):
            self._stage_names(con, loaded, kind, cols)
        elif kind == "history":
            self._stage_history(con, loaded, source, cols, file_label)
        elif kind == "field_history":
            stage_field_changes(
                con,
                loaded,
                source,
                cols,
                self.aliases.field_names("stage", "amount", "close_date"),
                self._deleted(cols),
                file_label,
            )
        else:
            self._stage_stages(con, loaded, cols)
        return loaded

    def _deleted(self, cols: dict[str, str]) -> str:
        return self.truthy(text_of(cols["is_deleted"])) if "is_deleted" in cols else "false"

    def _deal_spec(self, loaded: LoadedFile, source: Source, cols: dict[str, str]) -> DealSpec:
        text = {c: text_of(h) for c, h in cols.items() if c in DEAL_COLUMNS}
        stage = text["stage"]
        if source.status.won:
            won_stage = f"lower({stage}) in ({sql_list(source.status.won)})"
            lost_stage = f"lower({stage}) in ({sql_list(source.status.lost)})"
        else:
            # The org's own stage table (OpportunityStage), when loaded, knows renamed stages.
            crm_stages = (
                f"select lower(stage) from source_stages where source = {literal(source.name)}"
            )
            won_stage = (
                f"(lower({stage}) in ({sql_list(self.aliases.value_list('won_stages'))}) "
                f"or lower({stage}) in ({crm_stages} and is_won))"
            )
            lost_stage = (
                f"(lower({stage}) in ({sql_list(self.aliases.value_list('lost_stages'))}) "
                f"or lower({stage}) in ({crm_stages} and is_closed and not is_won))"
            )
        if "is_won" in cols and "is_closed" in cols and not source.status.won:
            won = self.truthy(text_of(cols["is_won"]))
            status = (
                f"case when {won} then 'won' "
                f"when {self.truthy(text_of(cols['is_closed']))} then 'lost' else 'open' end"
            )
        else:
            status = (
                f"case when {won_stage} then 'won' when {lost_stage} then 'lost' else 'open' end"
            )
        deleted = self._deleted(cols)
        first_column = text_of(loaded.headers[0])
        # A total row has no id; keyed on the name, its first column (the name) reads "Total".
        blank = "stage" if uses_stand_in(cols, self.aliases.kind("deals"), "deal_id") else "deal_id"
        total_row = self.aliases.value_list("report_total_row")[0]
        return DealSpec(
            text=text,
            status=status,
            exclude=(
                f"case when {deleted} then 'deleted in Salesforce (IsDeleted)' "
                f"when {text[blank]} is null "
                f"and regexp_matches(lower({first_column}), {literal(total_row)}) "
                "then 'report total row' end"
            ),
            deleted=deleted,
            probability_scale=100,
        )

    def _stage_history(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedFile,
        source: Source,
        cols: dict[str, str],
        file_label: str,
    ) -> None:
        """Stage changes and amount/close-date edits from OpportunityHistory rows."""
        text = {f: text_of(h) if f in cols else "null::varchar" for f, h in _history_fields(cols)}
        by_name = uses_stand_in(cols, self.aliases.kind("history"), "deal_id")
        text["opportunity_name"] = "null::varchar"
        if by_name:
            text = _deal_ids_from_names(con, source, text)
        locale = file_locale(
            con,
            loaded,
            source,
            {f: text[f] for f in ("amount", "previous_amount") if f in cols},
            {f: text[f] for f in ("changed_at", "close_date", "previous_close_date") if f in cols},
            file_label,
        )
        checks, failures = check_layers(
            [
                ("deal_id", "case when deal_id is null then 'deal_id is empty' end"),
                ("stage", "case when stage is null then 'stage is empty' end"),
                (
                    "changed_at",
                    date_check("changed_at", "changed_at_value", required=True, locale=locale),
                ),
                ("close_date", date_check("close_date", "close_date_value", locale=locale)),
                (
                    "amount",
                    "case when amount is not null and "
                    "not coalesce(isfinite(amount_value), false) "
                    "then 'amount: cannot read ''' || left(amount, 40) || ''' as a number' end",
                ),
            ]
        )
        deleted = self._deleted(cols)
        fields = {
            **text,
            "forecast_category": normalized_sql(text["forecast_category"]),
            "exclude_reason": f"case when {deleted} then 'deleted in Salesforce (IsDeleted)' end",
        }
        typed = {
            **{f"{f}_value": number_sql(f, locale) for f in ("amount", "previous_amount")},
            **{
                f"{f}_value": timestamp_sql(f, locale)
                for f in ("changed_at", "close_date", "previous_close_date")
            },
        }
        create_reading_view(
            con, "salesforce_history_reading", loaded.table, fields, typed, checks, failures
        )
        con.execute(sql_statement("ingest/salesforce_history_rows"))
        con.execute("drop view salesforce_history_reading")
        if by_name:
            _link_rows_to_named_deals(con, file_label)
        for statement in ("history_steps", "history_staged", "history_changes"):
            con.execute(sql_statement(f"ingest/salesforce_{statement}"))
        con.execute("drop table history_steps")
        con.execute("drop table history_rows")

    def _stage_stages(
        self, con: duckdb.DuckDBPyConnection, loaded: LoadedFile, cols: dict[str, str]
    ) -> None:
        """The org's stage table: order, closed/won flags, default probability (0-100)."""
        probability = (
            f"try_cast({text_of(cols['default_probability'])} as double)"
            if "default_probability" in cols
            else "null::double"
        )
        active = self.truthy(text_of(cols["is_active"])) if "is_active" in cols else "true"
        fields = {
            "stage": text_of(cols["stage"]),
            "sort_order": f"try_cast({text_of(cols['sort_order'])} as integer)",
            "is_closed": self.truthy(text_of(cols["is_closed"])),
            "is_won": self.truthy(text_of(cols["is_won"])),
            "default_probability": probability,
            "active": active,
        }
        create_reading_view(con, "salesforce_stage_reading", loaded.table, fields)
        con.execute(sql_statement("ingest/salesforce_stages_staged"))
        con.execute("drop view salesforce_stage_reading")

    def _stage_names(
        self, con: duckdb.DuckDBPyConnection, loaded: LoadedFile, kind: str, cols: dict[str, str]
    ) -> None:
        """staged_names: the id and name of each user or account (a user's name may be in parts)."""
        id_text = text_of(cols["user_id" if kind == "users" else "account_id"])
        parts = [text_of(cols[f]) for f in ("first_name", "last_name") if f in cols]
        whole = text_of(cols["name"]) if "name" in cols else "null::varchar"
        name = f"coalesce({whole}, nullif(concat_ws(' ', {', '.join(parts) or 'null'}), ''))"
        fields = {"id": id_text, "name": name, "deleted": self._deleted(cols)}
        create_reading_view(con, "salesforce_name_reading", loaded.table, fields)
        con.execute(sql_statement("ingest/salesforce_names_staged"))
        con.execute("drop view salesforce_name_reading")


def _key_repeated_names(
    con: duckdb.DuckDBPyConnection, source: str, header: str, file_label: str
) -> None:
    """Deals keyed on their name: deals sharing a name are keyed on it and their creation time.

    Nothing is rejected; one warning lists the repeated names and how they were told apart.
    """
    con.execute(sql_statement("ingest/key_repeated_deal_names"), {"source": source})
    repeated = con.execute(
        sql_statement("ingest/salesforce_repeated_names"), {"listed": NAMES_LISTED}
    ).fetchall()
    if not repeated:
        log.info("%s: no Id column, so deals are keyed on their name ('%s')", file_label, header)
        return
    listed = ", ".join(
        f"'{name}' (lines {', '.join(map(str, lines))})" for name, lines, _ in repeated
    )
    more = repeated[0][2] - len(repeated)
    log.warning(
        "%s: no Id column, so deals are keyed on their name ('%s'), and %d name(s) repeat: %s%s; "
        "their deals are told apart by creation date, keyed as 'name [creation time]' (with "
        "' #2', ' #3' in line order where it is missing or repeats, which a reordered export "
        "changes); add the Id column to the export (Data Loader: select Id) for stable keys",
        file_label,
        header,
        repeated[0][2],
        listed,
        f" and {more} more" if more else "",
    )


def _stage_stages_from_deals(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, cols: dict[str, str], file_label: str
) -> None:
    """staged_stages from a Data Export opportunity file's StageSortOrder and the deals' status."""
    sort_order = {"sort_order": text_of(cols["stage_sort_order"])}
    create_reading_view(con, "deal_sort_orders", loaded.table, sort_order)
    con.execute(sql_statement("ingest/stages_from_deals"))
    con.execute("drop view deal_sort_orders")
    stages = con.execute("select count(*) from staged_stages").fetchall()[0][0]
    log.info(
        "%s: the order of %d stage(s) read from '%s', closed and won from the deals' status",
        file_label,
        stages,
        cols["stage_sort_order"],
    )


def _deal_ids_from_names(
    con: duckdb.DuckDBPyConnection, source: Source, text: dict[str, str]
) -> dict[str, str]:
    """A history keyed on the opportunity name: its deal_id text becomes the named deal's id.

    A name one deal carries gives that deal's id; a name several deals carry stays the deal_id
    until `_link_rows_to_named_deals` picks one by the row's time; `opportunity_name` keeps it.
    """
    con.execute(sql_statement("ingest/deal_ids_by_name"), {"source": source.name})
    name = text["deal_id"]
    lookup = f"(select n.deal_id from deal_ids_by_name as n where n.name = {name} and n.deals = 1)"
    return {**text, "deal_id": f"coalesce({lookup}, {name})", "opportunity_name": name}


def _link_rows_to_named_deals(con: duckdb.DuckDBPyConnection, file_label: str) -> None:
    """history_rows naming several deals: each links to the deal of that name that existed then."""
    linked = con.execute(sql_statement("ingest/link_history_to_named_deals")).fetchall()[0][0]
    if linked:
        log.info(
            "%s: %d history row(s) name an opportunity several deals share; each is linked to "
            "the deal of that name created last by the row's time (else the earliest)",
            file_label,
            linked,
        )


def _history_fields(cols: dict[str, str]) -> list[tuple[str, str]]:
    fields = (
        "deal_id",
        "stage",
        "changed_at",
        "amount",
        "close_date",
        "previous_amount",
        "previous_close_date",
        "forecast_category",
    )
    return [(f, cols.get(f, "")) for f in fields]
