"""Slippage: deals pushed out of each quarter, and the open deals whose close date keeps moving,
with the chance of one more push read from how closed deals with as many pushes went."""

from __future__ import annotations

import duckdb

from pipeline_analytics.report.data import Row, fetch, unreadable_reason
from pipeline_analytics.report.model import (
    Block,
    Cell,
    Column,
    Heading,
    Note,
    ReportContext,
    Section,
    Table,
)
from pipeline_analytics.report.sections.categories import quarter_name
from pipeline_analytics.report.sections.summary import fiscal_start_month
from pipeline_analytics.report.sections.team import NONE_MARKER, number_cell

PERIOD_COLUMNS = (
    "period_start",
    "fiscal_year",
    "fiscal_quarter",
    "deals_pushed_out",
    "value_pushed_out_base",
    "avg_days_pushed",
)
DEAL_COLUMNS = (
    "name",
    "owner",
    "stage",
    "amount_base",
    "expected_close_date",
    "push_count",
    "days_pushed",
    "slip_probability",
    "enough_history",
    "min_deals",
    "source_has_history",
)
QUARTERS_SHOWN = 8
SLIPPERS_SHOWN = 10
WORST_SLIPPERS_SQL = (
    "select * from mart_slippage_deals where push_count > 0 "
    "order by amount_base desc nulls last, push_count desc, deal_id limit ?"
)


def slippage_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "slippage", t("Slippage: close dates pushed out")
    reason = unreadable_reason(
        con, t, "mart_slippage_periods", PERIOD_COLUMNS
    ) or unreadable_reason(con, t, "mart_slippage_deals", DEAL_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    periods = fetch(
        con,
        "select * from mart_slippage_periods order by period_start desc limit ?",
        [QUARTERS_SHOWN],
    )
    has_history = fetch(
        con, "select count(*) as n from mart_slippage_deals where source_has_history"
    )[0]["n"]
    if not periods and not has_history:
        return Section(
            key,
            title,
            blocks=(
                Note(
                    t(
                        "Slippage cannot be measured: the export has no close-date history (no "
                        "history or field-history file with close-date changes, and each deal "
                        "seen in one export only). Load a history export, or export again over "
                        "time, to see it."
                    ),
                    "unavailable",
                ),
            ),
        )
    intro = t(
        "A deal slips when its expected close date moves into a later quarter while it is open. "
        "Below: the deals each quarter lost that way, then the largest open deals whose date "
        "has been pushed, with the chance of another push."
    )
    blocks: list[Block] = [period_table(con, periods, ctx), *slipper_blocks(con, ctx)]
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def period_table(con: duckdb.DuckDBPyConnection, periods: list[Row], ctx: ReportContext) -> Table:
    t, fmt = ctx.t, ctx.fmt
    fiscal_start = fiscal_start_month(con)
    columns = (
        Column(t("Close quarter"), numeric=False),
        Column(t("Deals pushed out")),
        Column(t("Value pushed out ({currency})", currency=ctx.currency)),
        Column(t("Average days pushed")),
    )
    rows = tuple(
        (
            Cell(quarter_name(p, fiscal_start, ctx), str(p["period_start"])),
            number_cell(p["deals_pushed_out"], fmt.count),
            number_cell(p["value_pushed_out_base"], fmt.number),
            number_cell(p["avg_days_pushed"], fmt.day_count),
        )
        for p in periods
    )
    return Table(columns, rows, caption=t("Deals pushed out of each quarter"), sortable=True)


def slipper_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    deals = fetch(con, WORST_SLIPPERS_SQL, [SLIPPERS_SHOWN])
    heading = Heading(t("The worst slippers"))
    if not deals:
        return [heading, Note(t("No open deal has had its close date pushed."))]
    columns = (
        Column(t("Deal"), numeric=False),
        Column(t("Owner"), numeric=False),
        Column(t("Stage"), numeric=False),
        Column(t("Amount ({currency})", currency=ctx.currency)),
        Column(t("Expected close"), numeric=False),
        Column(t("Pushes")),
        Column(t("Days pushed")),
        Column(t("Chance of another push")),
    )
    rows = tuple(
        (
            Cell(d["name"] or "—"),
            Cell(d["owner"] if d["owner"] != NONE_MARKER else "—"),
            Cell(d["stage"] or "—"),
            number_cell(d["amount_base"], fmt.number),
            Cell(fmt.date(d["expected_close_date"]), str(d["expected_close_date"])),
            number_cell(d["push_count"], fmt.count),
            number_cell(d["days_pushed"], fmt.day_count),
            number_cell(d["slip_probability"], fmt.percent)
            if d["enough_history"]
            else Cell(t("too few closed deals"), None),
        )
        for d in deals
    )
    minimum = deals[0]["min_deals"]
    return [
        heading,
        Table(columns, rows, caption=t("Open deals pushed, largest first"), sortable=True),
        Note(
            t(
                "Chance of another push: of the closed deals pushed at least as many times, the "
                "share pushed once more before they closed; shown from {minimum} such deals up.",
                minimum=fmt.count(minimum),
            )
        ),
    ]
