"""The digest's alert rules: each a query in sql/notify/alert_*.sql, worded here in plain English.

An alert says what fired (the subject and its numbers) and why (the rule and its threshold). The
rules compare the latest base forecast run with the previous base run (scenario runs never count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.sql_files import sql_statement

P_HIT_MOVE = 0.10  # P(hit) moved this much (10 points) or more since the previous base run
TOP_DEALS = 10  # the previous run's largest open deals watched for a push, a loss or a cut
MIN_COVERAGE = 3.0  # open pipeline under 3x the remaining target


@dataclass(frozen=True)
class Alert:
    rule: str
    subject: str
    fired: str
    why: str


@dataclass(frozen=True)
class AlertInputs:
    """What the rules read besides the warehouse."""

    run: int | None  # the latest base forecast run
    previous: int | None  # the base run before it
    now: datetime  # naive UTC
    stale_after_days: int
    rows_rejected: int | None  # by the latest ingest (None: no ingest yet)
    fmt: Formatter


Row = dict[str, object]


def _rows(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> list[Row]:
    result = con.execute(sql_statement(f"notify/{name}"), params)
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, values, strict=True)) for values in result.fetchall()]


def target_name(row: Row) -> str:
    """`2026-Q4`, `2026-Q4, owner Ann` or `2026-Q4, pipeline Renewals`."""
    name = str(row["period"])
    if row.get("owner") is not None:
        name += f", owner {row['owner']}"
    if row.get("pipeline") is not None:
        name += f", pipeline {row['pipeline']}"
    return name


def p_hit_moved(con: duckdb.DuckDBPyConnection, inputs: AlertInputs) -> list[Alert]:
    if inputs.run is None or inputs.previous is None:
        return []
    rows = _rows(
        con,
        "alert_p_hit_moved",
        {"run": inputs.run, "previous": inputs.previous, "points": P_HIT_MOVE},
    )
    fmt = inputs.fmt
    return [
        Alert(
            "p_hit_moved",
            f"target {target_name(r)}",
            f"P(hit) {fmt.percent(r['previous_p_hit'], 0)} -> {fmt.percent(r['p_hit'], 0)}",
            f"P(hit) moved {abs(float(r['p_hit']) - float(r['previous_p_hit'])) * 100:.0f} "
            f"points since base forecast run #{inputs.previous}; the rule: "
            f"{P_HIT_MOVE * 100:.0f} points or more",
        )
        for r in rows
    ]


def top_deals(con: duckdb.DuckDBPyConnection, inputs: AlertInputs) -> list[Alert]:
    if inputs.previous is None:
        return []
    rows = _rows(con, "alert_top_deals", {"previous": inputs.previous, "deals": TOP_DEALS})
    fmt = inputs.fmt
    alerts = []
    for r in rows:
        name = r["name"] or r["deal_id"]
        what = r["what"]
        if what == "lost":
            fired = f"lost (was {fmt.money(r['previous_amount'])})"
        elif what == "pushed":
            fired = f"close date pushed from {r['previous_close_date']} to {r['close_date']}"
        else:
            fired = f"amount cut from {fmt.money(r['previous_amount'])} to {fmt.money(r['amount'])}"
        alerts.append(
            Alert(
                f"top_deal_{what}",
                f"deal {name} ({r['source']} {r['deal_id']}, owner {r['owner'] or 'none'})",
                fired,
                f"one of the {TOP_DEALS} largest open deals of base forecast run "
                f"#{inputs.previous}",
            )
        )
    return alerts


def low_coverage(con: duckdb.DuckDBPyConnection, inputs: AlertInputs) -> list[Alert]:
    if inputs.run is None:
        return []
    rows = _rows(con, "alert_low_coverage", {"run": inputs.run, "min_coverage": MIN_COVERAGE})
    fmt = inputs.fmt
    return [
        Alert(
            "low_coverage",
            f"target {target_name(r)}",
            f"coverage {fmt.number(r['coverage'], 1)}x: open pipeline "
            f"{fmt.money(r['open_pipeline'])} for {fmt.money(r['remaining'])} still to book",
            f"open pipeline under {MIN_COVERAGE:.0f}x the remaining target in base forecast "
            f"run #{inputs.run}",
        )
        for r in rows
    ]


def stale_data(con: duckdb.DuckDBPyConnection, inputs: AlertInputs) -> list[Alert]:
    rows = _rows(
        con,
        "alert_stale_data",
        {"now": inputs.now, "stale_after_days": inputs.stale_after_days},
    )
    return [
        Alert(
            "stale_data",
            "newest export",
            f"snapshot {r['snapshot_at']:%Y-%m-%d %H:%M} UTC, {float(r['age_days']):.1f} days old",
            f"older than [run] stale_after_days = {inputs.stale_after_days}; check that new "
            "exports still arrive in the configured source paths",
        )
        for r in rows
    ]


def rows_rejected(con: duckdb.DuckDBPyConnection, inputs: AlertInputs) -> list[Alert]:
    if not inputs.rows_rejected:
        return []
    return [
        Alert(
            "rows_rejected",
            "latest ingest",
            f"{inputs.rows_rejected:,} input row(s) rejected",
            "rows the export could not load; `pipeline-analytics rejects` lists the line, "
            "column and reason of each",
        )
    ]


RULES: tuple[Callable[[duckdb.DuckDBPyConnection, AlertInputs], list[Alert]], ...] = (
    p_hit_moved,
    top_deals,
    low_coverage,
    stale_data,
    rows_rejected,
)


def find_alerts(con: duckdb.DuckDBPyConnection, inputs: AlertInputs) -> list[Alert]:
    """Every rule's alerts, in the order of RULES."""
    return [alert for rule in RULES for alert in rule(con, inputs)]
