"""Deals and snapshots: a deals file's rows become the deals' current state and their history.

The newest snapshot of a deal wins; a deal deleted in the CRM leaves (its snapshots stay); every
file adds a snapshot per deal. Event times after the file was loaded are dropped from the rows
and kept in `flagged_values`. A history file's amount, close-date and status edits go to
`deal_changes`. Amounts are kept in the reporting currency too (`amount_base`), repriced when the
exchange rates change.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from pipeline_analytics.ingest import temp_tables
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

# An event later than the moment its file was loaded (plus this) has not happened: a typo (2094)
# or a placeholder. The day covers exports written in a time zone ahead of UTC.
FUTURE_TOLERANCE = timedelta(days=1)
FUTURE_FLAG = "event_in_future"


def reject_duplicate_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Within one file a deal appears once; earlier rows of a repeated id are rejected."""
    con.execute(sql_statement("ingest/deals_reject_duplicate_ids"))


def drop_future_deal_events(con: duckdb.DuckDBPyConnection, moment: datetime) -> None:
    """Event times after the load moment leave staged_deals; the deals load with the rest.

    Kept in temp table `future_values` (line, deal, column, value) for `flagged_values`, so they
    never set snapshot_at: a 2094 typo would make the file newer than every later export.
    """
    latest_allowed = {"latest_allowed": moment + FUTURE_TOLERANCE}
    con.execute(sql_statement("ingest/future_values_create"), latest_allowed)
    con.execute(sql_statement("ingest/future_values_clear"), latest_allowed)


def write_future_flags(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    con.execute(
        sql_statement("ingest/flagged_values_future"), {"batch_id": batch_id, "flag": FUTURE_FLAG}
    )


def warn_future_events(con: duckdb.DuckDBPyConnection, path: Path, moment: datetime) -> None:
    found = con.execute(sql_statement("ingest/future_values_first")).fetchall()
    temp_tables.drop(con, temp_tables.FUTURE_VALUES)
    if found:
        line, column, value, count = found[0]
        log.warning(
            "%s: %d event times after the file was loaded (first: line %d, %s %s) were left "
            "out; the deals load without them (loaded %s UTC, a day allowed for time zones; "
            "data-quality check %s); fix the dates in the CRM",
            path,
            count,
            line,
            column,
            value,
            f"{moment:%Y-%m-%d %H:%M}",
            FUTURE_FLAG,
        )


def write_deals(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    stages: tuple[str, ...] | None,
    base_currency: str | None,
    config_path: Path,
    snapshot_at: datetime | None,
    batch_id: int,
) -> None:
    """A deals file's good rows: the deals' current state, a snapshot each, and affected_deals.

    `stages` is the configured stage order (None: inferred, applied once all files are loaded by
    `reference.apply_stage_order`); a deal without a currency is in `base_currency`.
    """
    con.execute(
        sql_statement("ingest/deals_incoming"),
        {
            "source": source,
            "stages": list(stages or ()),
            "base": base_currency,
            "snapshot_at": snapshot_at,
            "batch_id": batch_id,
        },
    )
    # The newest export of a deal is its current state; an older file only adds a snapshot.
    con.execute(sql_statement("ingest/deals_replace_older"))
    con.execute(sql_statement("ingest/deals_insert"))
    con.execute(
        sql_statement("ingest/deals_delete_deleted"),
        {"source": source, "snapshot_at": snapshot_at},
    )
    con.execute(sql_statement("ingest/deal_snapshots_insert"))
    con.execute(sql_statement("ingest/affected_deals_from_deals"))
    if stages is not None:
        warn_unknown_stages(con, source, config_path)


def reprice_deals(con: duckdb.DuckDBPyConnection, base_currency: str) -> None:
    """Every deal's amount_base again, with the exchange rates now in fx_rates."""
    con.execute(sql_statement("ingest/deals_reprice"), {"base": base_currency})


def warn_unknown_stages(con: duckdb.DuckDBPyConnection, source: str, config_path: Path) -> None:
    """Open deals in a stage missing from [pipeline] stages load, but their funnel place is lost."""
    rows = con.execute(sql_statement("ingest/deals_unknown_open_stages")).fetchall()
    if rows:
        listed = ", ".join(f"'{stage}' ({n})" for stage, n in rows)
        log.warning(
            "source '%s': open deals in stages not in [pipeline] stages: %s; add them to "
            "[pipeline] stages in %s (in funnel order) or fix the export",
            source,
            listed,
            config_path,
        )


def write_deal_changes(con: duckdb.DuckDBPyConnection, source: str, batch_id: int) -> None:
    """Amount, close-date and status edits, each kept once (overlapping history exports)."""
    con.execute(
        sql_statement("ingest/deal_changes_insert"), {"source": source, "batch_id": batch_id}
    )
