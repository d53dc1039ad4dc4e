"""Reference tables: exchange rates, stages, and the CRM's own stage table and names.

`fx_rates` is rewritten from config (and its rates file) on every ingest; `stages` is written
once a source's files are loaded, from the configured or inferred stage order
(`apply_stage_order`); `source_stages` and `crm_names` hold what a CRM's stage, user and account
files say, replaced by each such file.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import Config, PipelineSettings
from pipeline_analytics.errors import ConfigError
from pipeline_analytics.ingest import deals, inference, temp_tables
from pipeline_analytics.ingest.columns import HeaderIndex
from pipeline_analytics.ingest.files import LoadedFile, drop_loaded, fingerprint, load_file
from pipeline_analytics.ingest.locale import Locale, detect_locale, number_sql, timestamp_sql
from pipeline_analytics.ingest.staging import text_of
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)


def refresh_reference_tables(
    con: duckdb.DuckDBPyConnection, config: Config, temp_dir: Path
) -> None:
    """Exchange rates come from config; rewrite them so config edits take effect.

    When the rates changed, every deal's amount_base is computed again with the new rates. (Stages
    are written after each source's files load: `apply_stage_order`.) The whole config is passed
    for `inference.reporting_currency`, which may decide the currency from the loaded deals.
    """
    rates = _read_rates(con, config.pipeline, config.path, temp_dir)
    with transaction(con):
        before = con.execute("select * from fx_rates order by all").fetchall()
        con.execute("delete from fx_rates")
        con.execute(
            sql_statement("ingest/fx_rates_insert"),
            {
                "currencies": [r[0] for r in rates],
                "valid_from": [r[1] for r in rates],
                "rates": [r[2] for r in rates],
            },
        )
        if con.execute("select * from fx_rates order by all").fetchall() != before:
            deals.reprice_deals(con, inference.reporting_currency(con, config))


def _read_rates(
    con: duckdb.DuckDBPyConnection,
    pipeline: PipelineSettings,
    config_path: Path | None,
    temp_dir: Path,
) -> list[tuple[str, object, float]]:
    """(currency, valid_from, rate_to_base): config rates (valid always), then the rates file."""
    rates: list[tuple[str, object, float]] = [
        (currency.upper(), datetime(1900, 1, 1).date(), rate)
        for currency, rate in sorted(pipeline.rates.items())
    ]
    path = pipeline.rates_file
    if path is None:
        return rates
    if not path.is_file():
        raise ConfigError(
            f"{config_path}: key 'pipeline.rates_file' names '{path}', which does not exist; "
            "fix the path (relative paths are read from the config's folder)"
        )
    fp = fingerprint(path)
    loaded = load_file(con, path, fp, "raw_rates", temp_dir)
    try:
        index = HeaderIndex(loaded.headers)
        headers = {
            field: next((h for a in aliases if (h := index.find(a))), None)
            for field, aliases in (
                ("currency", ("currency", "valuta")),
                ("valid_from", ("valid_from", "date", "valid from", "data")),
                ("rate", ("rate", "rate_to_base", "tasso", "cambio")),
            )
        }
        missing = [f for f, h in headers.items() if h is None]
        if missing:
            raise ConfigError(
                f"{path}: rates file needs columns currency, valid_from, rate; missing "
                f"{', '.join(missing)}; headers found: {', '.join(map(repr, loaded.headers))}"
            )
        text = {f: text_of(h) for f, h in headers.items() if h}
        locale = detect_locale(
            con,
            loaded.table,
            {"rate": text["rate"]},
            {"valid_from": text["valid_from"]},
            decimal=None,
            date_order=None,
            date_format=None,
            delimiter=loaded.delimiter,
            file_label=str(path),
            source_name="rates",
        )
        return rates + _parsed_rates(con, loaded, text, locale, path)
    finally:
        drop_loaded(con, "raw_rates")


def _parsed_rates(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    text: dict[str, str],
    locale: Locale,
    path: Path,
) -> list[tuple[str, object, float]]:
    """The rates file's lines, typed with its locale through view `rate_values`; a bad line is a
    ConfigError naming it."""
    if loaded.structural_rejects:
        line, reason, _ = loaded.structural_rejects[0]
        raise ConfigError(f"{path}: line {line}: {reason}; fix the rates file")
    columns = {
        "currency_text": text["currency"],
        "valid_from_text": text["valid_from"],
        "rate_text": text["rate"],
        "valid_from": timestamp_sql(text["valid_from"], locale),
        "rate": number_sql(text["rate"], locale),
    }
    projection = ", ".join(f"{expr} as {name}" for name, expr in columns.items())
    temp_tables.create_view(
        con, temp_tables.RATE_VALUES, f"select _row, {projection} from {loaded.table}"
    )
    try:
        bad = con.execute(sql_statement("ingest/rates_first_bad")).fetchall()
        if bad:
            line, currency, day, value = bad[0]
            raise ConfigError(
                f"{path}: line {line}: currency '{currency}', valid_from '{day}', rate '{value}' "
                "is not a 3-letter currency code, a finite date and a positive number; "
                "fix that line"
            )
        return con.execute(sql_statement("ingest/rates_parsed")).fetchall()
    finally:
        temp_tables.drop_views(con, temp_tables.RATE_VALUES)


def write_source_stages(
    con: duckdb.DuckDBPyConnection, source: str, batch_id: int, *, from_stage_table: bool
) -> None:
    """The CRM's stage table (Salesforce OpportunityStage) replaces the source's previous one.

    Stage metadata a deals file carries (Data Export's StageSortOrder, IsClosed, IsWon) is merged
    in per stage, newest deals file first; a stage the stage table gives keeps the table's row.
    """
    con.execute(
        sql_statement("ingest/source_stages_clear"),
        {"source": source, "from_stage_table": from_stage_table},
    )
    con.execute(
        sql_statement("ingest/source_stages_insert"), {"source": source, "batch_id": batch_id}
    )


def write_crm_names(con: duckdb.DuckDBPyConnection, source: str, batch_id: int, kind: str) -> None:
    """A CRM's user or account names replace the source's earlier ones (one row per id)."""
    con.execute("delete from crm_names where source = ? and object = ?", [source, kind])
    con.execute(
        sql_statement("ingest/crm_names_insert"),
        {"source": source, "object": kind, "batch_id": batch_id},
    )


def show_crm_names(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Owner and account ids on the source's deals and snapshots become the CRM's names for them.

    Run after every deals or names file, so either may come first: a User.csv loaded after the
    deals names their owners, and later deals files are named as they load.
    """
    has_names = con.execute(
        "select count(*) > 0 from crm_names where source = ?", [source]
    ).fetchall()[0][0]
    if has_names:
        named = con.execute(sql_statement("ingest/crm_names_deals"), {"source": source}).fetchall()[
            0
        ][0]
        con.execute(sql_statement("ingest/crm_names_snapshots"), {"source": source})
        if named:
            log.info(
                "source '%s': %d deal(s) now show owner or account names from the CRM's user "
                "and account files instead of ids",
                source,
                named,
            )


def apply_stage_order(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Write `stages` (configured or inferred) and bring every deal's stage order up to it.

    Runs after all files of a source are loaded, so the order is decided from all of them, and a
    changed order (in the config or in the data) reorders deals loaded earlier too: their stage
    events are queued for the rebuild that follows (`apply_pending_stage_events`). The whole
    config is passed only to `inference`, which infers the order and the outcome bases from the
    sources' settings and the loaded data.
    """
    stages = config.pipeline.stages
    with transaction(con):
        if stages is None:
            inference.infer_stage_order(con, config)
        else:
            con.execute(sql_statement("ingest/stages_configured_order"), {"stages": list(stages)})
        _write_stages(
            con,
            stages,
            config.pipeline.probabilities or (),
            inference.outcome_bases(con, config),
        )
        con.execute(sql_statement("ingest/reordered_deals_create"))
        con.execute(sql_statement("ingest/deals_apply_stage_order"))
        con.execute(sql_statement("ingest/pending_stage_events_reordered"))
        temp_tables.drop(con, temp_tables.REORDERED_DEALS)


def _write_stages(
    con: duckdb.DuckDBPyConnection,
    stages: tuple[str, ...] | None,
    probabilities: tuple[float, ...],
    outcome_bases: dict[str, str],
) -> None:
    """Open stages in order for every pipeline seen, plus the terminal stages, with their basis.

    The open stages are those of temp table `open_stage_order`: the configured `stages` (basis
    `config`) for every pipeline, else what the loaded data says. Terminal stages are those
    closed deals carry (outside the open ones) and those a CRM stage table marks closed, with the
    outcome basis of their source. A stage's default probability comes from the configured
    `probabilities` (in the order of `stages`), else from the CRM's stage table.
    """
    con.execute("delete from stages")
    con.execute(
        sql_statement("ingest/stages_insert"),
        {
            "configured": list(stages or ()) if probabilities else [],
            "probabilities": list(probabilities),
            "sources": list(outcome_bases),
            "bases": list(outcome_bases.values()),
        },
    )
    temp_tables.drop(con, temp_tables.OPEN_STAGE_ORDER)
