"""Leads files: one row per lead, the top of the funnel, loaded into `leads`.

A leads file is found two ways. A CRM adapter recognises it in the export folder by its headers
(`[kinds.leads]` of the adapter's alias file: Salesforce Lead.csv, a HubSpot contacts export);
and any source may name leads files with its `leads` key (a file, folder or glob), read with the
adapter's lead aliases or, for the generic adapter, the canonical names and
`[sources.lead_columns]`. Each file is one batch, like an activities file: read by `files`, typed
and checked in SQL with the file's locale, rejected rows kept with their line, a file whose sha256
was already loaded skipped. The newest export of a lead is its current state.

A lead links to a deal by `converted_deal_id` (Salesforce ConvertedOpportunityId, HubSpot's
first associated deal); deals can also carry the link themselves (`deals.lead_id`).
"""

from __future__ import annotations

import logging
import tomllib
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb

from pipeline_analytics.config import LEAD_COLUMNS, REQUIRED_LEAD_COLUMNS, Source
from pipeline_analytics.ingest import batches
from pipeline_analytics.ingest.adapters.common import exclude_footer_lines
from pipeline_analytics.ingest.columns import (
    ExportKind,
    HeaderIndex,
    load_aliases,
    missing_columns_error,
    resolve_kind,
)
from pipeline_analytics.ingest.files import (
    FileFingerprint,
    LoadedFile,
    create_reading_view,
    drop_loaded,
    load_rows,
)
from pipeline_analytics.ingest.locale import timestamp_sql
from pipeline_analytics.ingest.staging import (
    check_layers,
    date_check,
    file_locale,
    sql_list,
    text_of,
    too_long_check,
)
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

OBJECT = "leads"
GENERIC_LEADS_KIND = ExportKind(
    name=OBJECT,
    description="leads export",
    required=REQUIRED_LEAD_COLUMNS,
    aliases={c: (c,) for c in LEAD_COLUMNS},
)
RAW_TABLE = "raw_leads"
STAGED_TABLE = "staged_leads"
# Columns stored as read (after trimming), each checked for a runaway length.
STORED_TEXT = ("name", "company", "owner", "lead_source", "status", "converted_deal_id")


@cache
def leads_kind(adapter: str) -> ExportKind:
    """How `adapter` names a leads file's columns: its alias file's `[kinds.leads]`.

    Adapters without one (generic, pipedrive) read the canonical names, which
    `[sources.lead_columns]` can point at other headers.
    """
    if adapter == "generic":
        return GENERIC_LEADS_KIND
    text = resources.files("pipeline_analytics.ingest").joinpath(f"aliases/{adapter}.toml")
    kind = tomllib.loads(text.read_text(encoding="utf-8")).get("kinds", {}).get(OBJECT)
    if kind is None:
        return GENERIC_LEADS_KIND
    return ExportKind(
        name=OBJECT,
        description=kind["description"],
        required=tuple(kind["required"]),
        aliases={f: tuple(a) for f, a in kind["columns"].items()},
    )


def is_leads_export(headers: list[str], source: Source) -> bool:
    """Whether a file of a CRM export folder is that CRM's leads export, by its headers."""
    kind = leads_kind(source.adapter)
    if kind is GENERIC_LEADS_KIND:
        return False  # canonical names alone are too weak to tell a leads file in a folder
    _, missing = resolve_kind(_index(headers, source), kind, source.lead_columns)
    return not missing


def _index(headers: list[str], source: Source) -> HeaderIndex:
    prefixes = () if source.adapter == "generic" else load_aliases(source.adapter).entity_prefixes
    return HeaderIndex(headers, prefixes)


def _true_values(source: Source) -> tuple[str, ...]:
    return () if source.adapter == "generic" else load_aliases(source.adapter).value_list("true")


def load_leads_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    temp_dir: Path,
    sheet: str | None = None,
) -> batches.BatchResult:
    """Load one new leads file as one batch (the caller skips files already loaded)."""
    started_at = datetime.now(UTC).replace(tzinfo=None)
    log.info("%s: loading leads (%.1f MB)", path, fp.size / 1e6)
    try:
        loaded = load_rows(con, path, fp, RAW_TABLE, temp_dir, sheet)
        if source.adapter != "generic":
            footer = load_aliases(source.adapter).value_list("report_footer")
            loaded = exclude_footer_lines(loaded, footer)
        stage_leads(con, loaded, source, str(path))
        result = write_leads_batch(
            con, source=source, path=path, fp=fp, loaded=loaded, started_at=started_at
        )
    finally:
        drop_loaded(con, RAW_TABLE)
        con.execute(f"drop table if exists {STAGED_TABLE}")
    batches.log_loaded(path, result, "leads")
    return result


def stage_leads(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, source: Source, file_label: str
) -> None:
    """Create temp table `staged_leads`: canonical columns, typed, with a reason per bad row."""
    index = _index(loaded.headers, source)
    kind = leads_kind(source.adapter)
    found, missing = resolve_kind(index, kind, source.lead_columns)
    if missing:
        raise missing_columns_error(
            file_label, index, kind, missing, source.lead_columns, "sources.lead_columns"
        )
    text = {c: text_of(found[c]) if c in found else "null::varchar" for c in LEAD_COLUMNS}
    truthy = sql_list(_true_values(source))
    # A lead not converted in the CRM has no conversion, whatever stale values its row carries.
    converted_flag = (
        f"coalesce(lower({text_of(found['is_converted'])}) in ({truthy}), false)"
        if "is_converted" in found
        else "true"
    )
    deleted = (
        f"coalesce(lower({text_of(found['is_deleted'])}) in ({truthy}), false)"
        if "is_deleted" in found
        else "false"
    )
    # HubSpot lists every associated deal ("123;456"): the first is the one the lead became.
    deal_id = f"nullif(trim(split_part({text['converted_deal_id']}, ';', 1)), '')"
    dates = {c: text[c] for c in ("created_at", "converted_at") if c in found}
    locale = file_locale(con, loaded, source, {}, dates, file_label)
    checks, failures = check_layers(
        [
            ("lead_id", "case when lead_id is null then 'lead_id is empty' end"),
            ("lead_id", too_long_check("lead_id")),
            ("created_at", date_check("created_at", "created_value", required=True, locale=locale)),
            ("converted_at", date_check("converted_at", "converted_value", locale=locale)),
            *[(c, too_long_check(c)) for c in STORED_TEXT],
        ]
    )
    fields = {
        "lead_id": text["lead_id"],
        "name": f"coalesce({text['name']}, "
        f"nullif(concat_ws(' ', {text['first_name']}, {text['last_name']}), ''))",
        **{c: text[c] for c in ("company", "owner", "lead_source", "status")},
        **{c: text[c] for c in ("created_at", "converted_at")},
        "converted_deal_id": deal_id,
        "converted": converted_flag,
        "exclude_reason": f"case when {deleted} then 'deleted in the CRM' end",
    }
    typed = {
        "created_value": timestamp_sql("created_at", locale),
        "converted_value": timestamp_sql("converted_at", locale),
    }
    create_reading_view(con, "lead_reading", loaded.table, fields, typed, checks, failures)
    con.execute(sql_statement("ingest/leads_staged"))
    con.execute("drop view lead_reading")


def write_leads_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    started_at: datetime,
) -> batches.BatchResult:
    """Write `staged_leads` as one batch: all good rows land, or (on error) nothing does."""
    batches.reject_future_events(con, STAGED_TABLE, "created_at", started_at)
    batches.reject_future_events(con, STAGED_TABLE, "converted_at", started_at)
    con.execute(sql_statement("ingest/leads_reject_duplicates"))
    rejected, excluded, snapshot_at = con.execute(
        sql_statement("ingest/leads_batch_counts")
    ).fetchall()[0]
    params = {"source": source.name, "snapshot_at": snapshot_at}

    def replace_older_and_insert(batch_id: int) -> None:
        con.execute(sql_statement("ingest/leads_replace_older"), params)
        con.execute(sql_statement("ingest/leads_insert"), {**params, "batch_id": batch_id})

    return batches.write_file_batch(
        con,
        source=source,
        kind=OBJECT,
        path=path,
        fp=fp,
        loaded=loaded,
        staged_table=STAGED_TABLE,
        rejected=rejected,
        excluded=excluded,
        snapshot_at=snapshot_at,
        started_at=started_at,
        write_rows=replace_older_and_insert,
        mapping="sources.lead_columns",
    )
