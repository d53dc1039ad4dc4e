"""Settings the config leaves out, inferred from the export at ingest, each with its basis.

Explicit config always wins; what is inferred is stored in `inferred_settings` (one row per source
and setting, replaced when inferred again) and logged, so a user can copy any of it into the
config. What this module infers:

- a generic export's column mapping from its headers (`aliases/generic.toml`);
- won and lost from a status column's values or from stage names (`aliases/outcomes.toml`), when
  neither the config nor the CRM's own flags say it;
- the reporting currency: the most common currency the deals name (currency column, or a code or
  symbol in the amounts), else USD, assumed and said so;
- the order of each pipeline's open stages, after all files of a source are loaded, from, in this
  order: the CRM's stage table (`source_stages`), the CRM's default stage list (when the export's
  stages are all in it), the order in which deals entered stages in the stage history, the mean
  probability per stage and, as a guess to confirm, the mean age of open deals per stage.
"""

from __future__ import annotations

import csv
import json
import logging
import tomllib
from dataclasses import replace
from functools import cache
from importlib import resources

import duckdb

from pipeline_analytics.config import REQUIRED_DEAL_COLUMNS, Config, Source, StatusMapping
from pipeline_analytics.ingest.columns import ExportKind, HeaderIndex, load_aliases
from pipeline_analytics.ingest.files import create_reading_view
from pipeline_analytics.ingest.inferred_settings import (
    WAREHOUSE,
    record_inference,
    recorded,
)
from pipeline_analytics.ingest.locale import SHARED_SYMBOLS, amount_currency_sql
from pipeline_analytics.ingest.staging import literal, text_of
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

CURRENCY_SETTING = "pipeline.currency"
ASSUMED_CURRENCY = "USD"
# stages.basis of a stage whose order no rule decided: `init` asks the user to confirm it.
GUESS_BASES = ("deal age", "guess")
STATUS_BASES = ("status column", "stage name")
# CRMs whose closed deals are always in a closed stage (Pipedrive's keep the stage they were in).
CLOSED_STAGE_ADAPTERS = ("salesforce", "hubspot")


# --- column mapping --------------------------------------------------------------------------


def generic_kind(name: str) -> ExportKind:
    """A kind of generic export (deals, history, activities) with its header aliases.

    A deals file's required columns are the config's REQUIRED_DEAL_COLUMNS, the one list of them.
    """
    kind = load_aliases("generic").kind(name)
    return replace(kind, required=REQUIRED_DEAL_COLUMNS) if name == "deals" else kind


def map_headers(
    headers: list[str], kind: ExportKind, configured: dict[str, str]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(field -> header, field -> header for the fields inferred, required fields not found).

    Configured fields come first and keep their headers: an alias never takes a header the
    config gave to another field, and a header serves one field only.
    """
    index = HeaderIndex(headers)
    found: dict[str, str] = {}
    missing: list[str] = []
    for field_name, header_name in configured.items():
        header = index.find(header_name)
        if header is None:
            missing.append(field_name)
        else:
            found[field_name] = header
    used = set(found.values())
    inferred: dict[str, str] = {}
    for field_name, aliases in kind.aliases.items():
        if field_name in configured:
            continue
        header = next((h for a in aliases if (h := index.find(a)) and h not in used), None)
        if header is not None:
            found[field_name] = inferred[field_name] = header
            used.add(header)
        elif field_name in kind.required:
            missing.append(field_name)
    return found, inferred, missing


def recognise_generic(headers: list[str], source: Source | None = None) -> str | None:
    """The kind of generic export (deals, history, activities) these headers make, or None.

    A deals file with a creation date is deals even if a header could be a change time; a file of
    deal, stage and change time is history; then deals without a creation date; then activities.
    The source's configured deal and history mappings, when given, name those kinds' headers.
    """
    configured: dict[str, dict[str, str]] = {
        "deals": source.columns if source else {},
        "history": source.history_columns if source else {},
        "activities": {},  # the config fills canonical names in, which would hide the aliases
    }
    deals, _, deals_missing = map_headers(headers, generic_kind("deals"), configured["deals"])
    if not deals_missing and "created_at" in deals:
        return "deals"
    for name in ("history", "deals", "activities"):
        if not map_headers(headers, generic_kind(name), configured[name])[2]:
            return name
    return None


def record_columns(
    con: duckdb.DuckDBPyConnection, source: str, table: str, inferred: dict[str, str]
) -> None:
    for field_name, header in inferred.items():
        record_inference(con, source, f"{table}.{field_name}", header, f"header '{header}'")


# --- won and lost ----------------------------------------------------------------------------


@cache
def outcome_words() -> dict[str, dict[str, tuple[str, ...]]]:
    """outcomes.toml: {'status'|'stage': {'won'|'lost'|'open': values, lower-cased}}."""
    text = resources.files("pipeline_analytics.ingest").joinpath("aliases/outcomes.toml")
    raw = tomllib.loads(text.read_text(encoding="utf-8"))
    return {
        part: {outcome: tuple(v.lower() for v in values) for outcome, values in lists.items()}
        for part, lists in raw.items()
    }


def infer_status(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: Source,
    status_text: str | None,
    stage_text: str,
) -> tuple[StatusMapping, str, str | None]:
    """(won/lost values, SQL text whose values they are, basis) for a generic deals file.

    A status column's values are tried first, then the stage names; the basis is None when
    nothing in the file says won or lost.
    """
    candidates = [(status_text, "status"), (stage_text, "stage")] if status_text else []
    candidates = candidates or [(stage_text, "stage")]
    for text, part in candidates:
        assert text is not None
        create_reading_view(con, "outcome_values", table, {"v": text})
        values = con.execute(sql_statement("ingest/inference_outcome_values")).fetchall()
        con.execute("drop view outcome_values")
        words = outcome_words()[part]
        won = tuple(shown for value, shown in values if value in words["won"])
        lost = tuple(shown for value, shown in values if value in words["lost"])
        if won or lost:
            basis = "status column" if part == "status" else "stage name"
            for outcome, found in (("won", won), ("lost", lost)):
                record_inference(con, source.name, f"status.{outcome}", json.dumps(found), basis)
            return StatusMapping(won=won, lost=lost), text, basis
    log.warning(
        "source '%s': no status value or stage name in the export says won or lost (such as "
        "'Won', 'Closed Lost', 'Vinto', 'Perso'), so every deal counts as open and win rates "
        "cannot be measured; if some values mean won or lost, set [sources.status] won = [...] "
        "and lost = [...] in the config",
        source.name,
    )
    for outcome in ("won", "lost"):
        record_inference(con, source.name, f"status.{outcome}", "[]", "no value says it")
    return StatusMapping(won=(), lost=()), stage_text, None


# The CRM columns that decide a deal's status when present (else its adapter reads stage names).
CRM_STATUS_COLUMNS = {
    "salesforce": ({"is_won", "is_closed"},),
    "hubspot": ({"is_closed_won"}, {"is_closed_lost"}),
    "pipedrive": ({"status"},),
}


def crm_status_columns(adapter: str, columns: dict[str, str]) -> dict[str, str]:
    """The status columns (field -> header) of a CRM deals file that decide won and lost."""
    fields = set().union(*(c for c in CRM_STATUS_COLUMNS.get(adapter, ()) if c <= set(columns)))
    return {f: h for f, h in columns.items() if f in fields}


def record_crm_outcomes(
    con: duckdb.DuckDBPyConnection, source: Source, status_columns: dict[str, str]
) -> None:
    """After a CRM deals file is staged: what decided won and lost, and the stages it gave.

    `status_columns`: the CRM's own won/closed/status columns the file has (field -> header);
    without them the adapter read the stage names.
    """
    if source.status.won:
        return
    rows = con.execute(sql_statement("ingest/inference_closed_stages")).fetchall()
    stages = dict(rows)
    if status_columns:
        headers = ", ".join(f"'{h}'" for h in status_columns.values())
        for outcome in ("won", "lost"):
            record_inference(
                con, source.name, f"status.{outcome}", f"from {headers}", "status column"
            )
    else:
        for outcome in ("won", "lost"):
            value = json.dumps(stages.get(outcome, []))
            record_inference(con, source.name, f"status.{outcome}", value, "stage name")
    if not stages:
        log.warning(
            "source '%s': no deal of this export is won or lost (%s), so win rates cannot be "
            "measured; if some stages mean won or lost, set [sources.status] in the config",
            source.name,
            "by its status columns" if status_columns else "no status column, no won/lost stage",
        )


# --- reporting currency ----------------------------------------------------------------------


def with_reporting_currency(con: duckdb.DuckDBPyConnection, config: Config) -> Config:
    """The config with the inferred reporting currency filled in, once one was recorded."""
    if config.pipeline.currency is not None:
        return config
    found = recorded(con, WAREHOUSE, CURRENCY_SETTING)
    return with_currency(config, found[0]) if found else config


def reporting_currency(con: duckdb.DuckDBPyConnection, config: Config) -> str:
    """[pipeline] currency, else the one inferred at ingest, else USD (nothing loaded yet)."""
    if config.pipeline.currency is not None:
        return config.pipeline.currency
    found = recorded(con, WAREHOUSE, CURRENCY_SETTING)
    return found[0] if found else ASSUMED_CURRENCY


def decide_currency(
    con: duckdb.DuckDBPyConnection,
    table: str,
    amount_header: str | None,
    currency_header: str | None,
) -> str:
    """The reporting currency the first deals file decides when the config names none.

    The most common currency its deals name (currency column, else a code or symbol in the
    amounts), else USD, assumed and said so; recorded as an inferred setting either way.
    """
    named = []
    if currency_header is not None:
        named.append(f"upper({text_of(currency_header)})")
    if amount_header is not None:
        amount = amount_currency_sql(text_of(amount_header))
        shared = " ".join(
            f"when {literal(symbol)} then {literal(codes[0])}"
            for symbol, codes in SHARED_SYMBOLS.items()
        )
        named.append(f"case {amount} {shared} else {amount} end")
    code = None
    if named:
        create_reading_view(
            con, "named_currencies", table, {"code": f"coalesce({', '.join(named)})"}
        )
        rows = con.execute(sql_statement("ingest/inference_most_common_currency")).fetchall()
        con.execute("drop view named_currencies")
        code = rows[0][0] if rows else None
    if code is not None:
        where = f"currency column '{currency_header}'" if currency_header else "the amounts"
        record_inference(
            con, WAREHOUSE, CURRENCY_SETTING, code, f"most common currency of the deals ({where})"
        )
        return code
    log.warning(
        "the export names no currency (no currency column, no code or symbol in the amounts): "
        'amounts are taken as %s; if they are not, set [pipeline] currency = "EUR" (or the '
        "right code) in the config",
        ASSUMED_CURRENCY,
    )
    record_inference(
        con, WAREHOUSE, CURRENCY_SETTING, ASSUMED_CURRENCY, "assumed: the export names no currency"
    )
    return ASSUMED_CURRENCY


def with_currency(config: Config, code: str) -> Config:
    """The config with reporting currency `code`, also for the sources that name none."""
    return replace(
        config,
        pipeline=replace(config.pipeline, currency=code),
        sources=tuple(
            s if s.currency else replace(s, currency=code, inferred=s.inferred | {"currency"})
            for s in config.sources
        ),
    )


# --- stage order -----------------------------------------------------------------------------


@cache
def default_stages(adapter: str) -> tuple[str, ...]:
    """The CRM's standard stage picklist in order (ingest/aliases/<adapter>_default_stages.csv)."""
    name = f"aliases/{adapter}_default_stages.csv"
    path = resources.files("pipeline_analytics.ingest").joinpath(name)
    if not path.is_file():
        return ()
    rows = csv.DictReader(path.read_text(encoding="utf-8").splitlines())
    return tuple(r["stage"] for r in sorted(rows, key=lambda r: int(r["sort_order"])))


def infer_stage_order(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Temp table `open_stage_order (pipeline, stage, stage_order, basis)` from the loaded data.

    Records each pipeline's order in inferred_settings and warns when no rule could decide it.
    """
    terminal_names = [
        *outcome_words()["stage"]["won"],
        *outcome_words()["stage"]["lost"],
        *(v.lower() for s in config.sources for v in (*s.status.won, *s.status.lost)),
    ]
    for adapter in ("salesforce", "hubspot"):
        terminal_names += [v.lower() for v in load_aliases(adapter).value_list("won_stages")] + [
            v.lower() for v in load_aliases(adapter).value_list("lost_stages")
        ]
    defaults: dict[str, int] = {}
    for adapter in dict.fromkeys(s.adapter for s in config.sources):
        for position, stage in enumerate(default_stages(adapter), start=1):
            defaults.setdefault(stage.lower(), position)
    con.execute(
        "create or replace temp table open_stage_order as "
        + sql_statement("ingest/infer_stage_order"),
        {
            "terminal_names": sorted(set(terminal_names)),
            "default_stages": list(defaults),
            "default_positions": list(defaults.values()),
            "closed_stage_sources": [
                s.name for s in config.sources if s.adapter in CLOSED_STAGE_ADAPTERS
            ],
        },
    )
    for pipeline, stages, basis in con.execute(
        sql_statement("ingest/inference_pipeline_stage_orders")
    ).fetchall():
        record_inference(con, WAREHOUSE, f"stages.{pipeline}", json.dumps(stages), basis)
        if basis in GUESS_BASES:
            log.warning(
                "pipeline '%s': the order of its open stages cannot be decided from the data "
                "(no CRM stage table, stage history or probability per stage tells it); guessed "
                "%s from %s: if that is wrong, set [pipeline] stages in the config (`init` "
                "writes the guess for you to confirm)",
                pipeline,
                ", ".join(stages),
                "the mean age of open deals per stage" if basis == "deal age" else "the names",
            )


def outcome_bases(con: duckdb.DuckDBPyConnection, config: Config) -> dict[str, str]:
    """Per source, how its deals' won/lost status was decided: config, status column, stage name."""
    bases = {}
    for source in config.sources:
        found = recorded(con, source.name, "status.won")
        if source.status.won:
            bases[source.name] = "config"
        elif found is not None and found[1] in STATUS_BASES:
            bases[source.name] = found[1]
    return bases
