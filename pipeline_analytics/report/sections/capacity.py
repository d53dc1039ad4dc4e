"""Capacity, in the team section: how many reps the next target needs at today's per-rep pipeline
creation and win rate, and which reps carry more (or less) of it than their creation books.

The numbers are set work in sql/forecast/capacity.sql and capacity_reps.sql (definitions there
and in docs/metrics.md); the target is the latest base forecast run's (forecast_targets).
"""

from __future__ import annotations

import math
from datetime import timedelta

import duckdb

from pipeline_analytics.report.data import Row, fetch, table_columns
from pipeline_analytics.report.forecast_data import latest_run
from pipeline_analytics.report.model import Block, Cell, Column, Heading, Note, ReportContext, Table
from pipeline_analytics.sql_files import sql_statement

TARGET_COLUMNS = ("run_id", "period", "period_kind", "period_start", "period_end", "target")
REP_COLUMNS = ("owner", "as_of", "window_start", "created_pipeline_base", "win_rate_amount")


def capacity_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t = ctx.t
    heading = Heading(t("Capacity against the next target"))
    run = latest_run(con)
    if (
        run is None
        or not set(TARGET_COLUMNS) <= table_columns(con, "forecast_targets")
        or not set(REP_COLUMNS) <= table_columns(con, "mart_rep_performance")
    ):
        return []
    rows = fetch(con, sql_statement("forecast/capacity"), {"run": run.run_id})
    if not rows:
        return [
            heading,
            Note(
                t(
                    "No company-wide target ends after the forecast's date, so the reps a target "
                    "needs cannot be measured; set [[targets]] in the config to see it."
                ),
                "unavailable",
            ),
        ]
    capacity = rows[0]
    if capacity["reps_needed"] is None:
        return [heading, Note(unmeasurable_text(capacity, ctx), "unavailable")]
    reps = fetch(
        con,
        sql_statement("forecast/capacity_reps"),
        {"target": capacity["target"], "period_months": capacity["period_months"]},
    )
    return [heading, Note(capacity_text(capacity, ctx)), rep_load_table(reps, ctx)]


def unmeasurable_text(capacity: Row, ctx: ReportContext) -> str:
    t = ctx.t
    if not capacity["reps"]:
        return t(
            "No rep created pipeline in the trailing window, so the reps the next target needs "
            "cannot be measured."
        )
    return t(
        "No deal closed with an amount in the trailing window, so there is no win rate to tell "
        "how many reps the next target needs."
    )


def capacity_text(capacity: Row, ctx: ReportContext) -> str:
    t, fmt = ctx.t, ctx.fmt
    needed = math.ceil(capacity["reps_needed"] - 1e-9)
    gap = needed - capacity["reps"]
    if gap > 0:
        verdict = t("{count} more would be needed.", count=fmt.count(gap))
    elif gap < 0:
        verdict = t("{count} fewer would do.", count=fmt.count(-gap))
    else:
        verdict = t("that is as many as it needs.")
    return t(
        "The next target, {target} for {start} to {end}, needs {needed} reps at today's per-rep "
        "pipeline creation ({created} a month) and win rate by value ({rate}); {reps} reps "
        "create pipeline now: {verdict} This is a steady-state head count: a new rep's ramp-up "
        "and the time from creation to close are not in it.",
        target=fmt.money(capacity["target"]),
        start=fmt.date(capacity["period_start"]),
        end=fmt.date(capacity["period_end"] - timedelta(days=1)),
        needed=fmt.number(capacity["reps_needed"], 1),
        created=fmt.money(capacity["per_rep_monthly_created"]),
        rate=fmt.percent(capacity["win_rate_amount"]),
        reps=fmt.count(capacity["reps"]),
        verdict=verdict,
    )


def rep_load_table(reps: list[Row], ctx: ReportContext) -> Table:
    t, fmt, currency = ctx.t, ctx.fmt, ctx.currency
    columns = (
        Column(t("Owner"), numeric=False),
        Column(t("Pipeline created a month ({currency})", currency=currency)),
        Column(t("Win rate by value")),
        Column(t("Bookings capacity a month ({currency})", currency=currency)),
        Column(t("Equal share of the target a month ({currency})", currency=currency)),
        Column(t("Load")),
    )
    rows = tuple(
        (
            Cell(rep["owner"], rep["owner"]),
            Cell(fmt.number(rep["monthly_created"]), rep["monthly_created"]),
            Cell(fmt.percent(rep["win_rate_amount"]), rep["win_rate_amount"]),
            Cell(fmt.number(rep["monthly_capacity"]), rep["monthly_capacity"]),
            Cell(fmt.number(rep["monthly_share"]), rep["monthly_share"]),
            load_cell(rep, ctx),
        )
        for rep in reps
    )
    return Table(
        columns,
        rows,
        caption=t(
            "Load = the rep's equal share of the target ÷ what the rep's pipeline creation books "
            "at the rep's win rate: above 1.5 overloaded, below 0.5 capacity to spare"
        ),
        sortable=True,
    )


def load_cell(rep: Row, ctx: ReportContext) -> Cell:
    t = ctx.t
    if rep["load"] is None:
        return Cell(t("nothing won in the window"), None)
    text = ctx.fmt.ratio(rep["load"])
    if rep["overloaded"]:
        return Cell(text, rep["load"], flag=t("overloaded"))
    if rep["underloaded"]:
        return Cell(text, rep["load"], flag=t("capacity to spare"), flag_tone="calm")
    return Cell(text, rep["load"])
