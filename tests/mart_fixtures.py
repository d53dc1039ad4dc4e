"""Tiny hand-built warehouses for the SQL model tests: insert core rows, build, read marts."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline_analytics.build import build
from pipeline_analytics.warehouse import connect

SOURCE = "crm"
PIPELINE = "default"
TERMINAL_STAGES = {"won": "Won", "lost": "Lost"}


def new_warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return connect(tmp_path / "w.duckdb")


def stage_name(stage_order: int) -> str:
    return f"stage {stage_order}"


def add_stages(con: duckdb.DuckDBPyConnection, open_stages: int, pipeline: str = PIPELINE) -> None:
    """Open stages 'stage 1'..'stage n' (stage_order 1..n), then the terminal 'Won' and 'Lost'."""
    stage_rows = [(pipeline, stage_name(n), n, False, False) for n in range(1, open_stages + 1)]
    stage_rows += [(pipeline, TERMINAL_STAGES["won"], None, True, False)]
    stage_rows += [(pipeline, TERMINAL_STAGES["lost"], None, False, True)]
    con.executemany(
        "insert into stages (pipeline, stage, stage_order, is_won, is_lost) values (?, ?, ?, ?, ?)",
        stage_rows,
    )


def add_deal(
    con: duckdb.DuckDBPyConnection,
    deal_id: str,
    *,
    created_at: datetime,
    status: str = "open",
    stage_order: int | None = None,
    closed_at: datetime | None = None,
    amount_base: float | None = None,
    owner: str | None = None,
    snapshot_at: datetime | None = None,
    pipeline: str = PIPELINE,
    source: str = SOURCE,
    stage: str | None = None,
    lead_source: str | None = None,
    deal_type: str | None = None,
    segment: str | None = None,
    amount: float | None = None,
    currency: str | None = None,
    expected_close_date: date | None = None,
    activity_count: int | None = None,
) -> None:
    """One deal's current state: an open deal sits in stage_order, a closed one in 'Won'/'Lost'.

    `stage` overrides the stage name (a stage missing from config has a name but no order).
    """
    if stage is None:
        stage = stage_name(stage_order) if stage_order is not None else TERMINAL_STAGES.get(status)
    con.execute(
        """insert into deals (source, deal_id, owner, pipeline, stage, stage_order, status,
            amount, currency, amount_base, created_at, closed_at, snapshot_at, lead_source,
            deal_type, segment, expected_close_date, activity_count)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            source,
            deal_id,
            owner,
            pipeline,
            stage,
            stage_order,
            status,
            amount,
            currency,
            amount_base,
            created_at,
            closed_at,
            snapshot_at,
            lead_source,
            deal_type,
            segment,
            expected_close_date,
            activity_count,
        ],
    )


def add_snapshot(
    con: duckdb.DuckDBPyConnection,
    deal_id: str,
    snapshot_at: datetime,
    *,
    status: str = "open",
    amount_base: float | None = None,
    expected_close_date: date | None = None,
    owner: str | None = None,
    source: str = SOURCE,
) -> None:
    """One deal as one export (taken at snapshot_at) showed it."""
    con.execute(
        """insert into deal_snapshots (snapshot_at, source, deal_id, status, amount_base,
            expected_close_date, owner)
        values (?, ?, ?, ?, ?, ?, ?)""",
        [snapshot_at, source, deal_id, status, amount_base, expected_close_date, owner],
    )


def add_activity(
    con: duckdb.DuckDBPyConnection,
    deal_id: str,
    occurred_at: datetime,
    *,
    activity_type: str = "Call",
    source: str = SOURCE,
) -> None:
    con.execute(
        "insert into activities values (?, ?, ?, ?, null)",
        [source, deal_id, activity_type, occurred_at],
    )


def add_stint(
    con: duckdb.DuckDBPyConnection,
    deal_id: str,
    stage_order: int,
    entered_at: datetime | None,
    exited_at: datetime | None,
    *,
    stint: int = 1,
    pipeline: str = PIPELINE,
    stage: str | None = None,
) -> None:
    """One stint of a deal in an open stage (or, with `stage`, in a stage missing from config)."""
    con.execute(
        "insert into deal_stage_events values (?, ?, ?, ?, ?, ?, ?, ?, 'history')",
        [
            SOURCE,
            deal_id,
            pipeline,
            stage or stage_name(stage_order),
            None if stage else stage_order,
            entered_at,
            exited_at,
            stint,
        ],
    )


def build_as_of(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    lookback_days: int = 365,
    fiscal_year_start_month: int = 1,
) -> None:
    build(
        con,
        lookback_days=lookback_days,
        currency="USD",
        as_of=as_of,
        fiscal_year_start_month=fiscal_year_start_month,
    )


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict]:
    """The query's rows as dicts keyed by column name."""
    result = con.execute(sql, params or [])
    names = [col[0] for col in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> dict:
    (row,) = rows(con, sql, params)
    return row
