"""7. Pipeline flow: how open pipeline at the start of the window became open pipeline at its end.

mart_pipeline_flow holds exact bridges (open_start + created + amount_up - amount_down - won - lost
= open_end) per source and period; mart_pipeline_flow_window chains the month-end periods of the
trailing window, all sources together, into one: movements add up, the first month's start and the
last month's end bound it.
"""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.data import Row, fetch, unavailable_reason
from pipeline_analytics.report.measurability import (
    flow_created_note,
    measure,
    open_without_amount_note,
    read_measures,
)
from pipeline_analytics.report.model import Cell, Column, Note, ReportContext, Section, Table

FLOW_COLUMNS = (
    "period_start",
    "period_end",
    "open_start",
    "created",
    "won",
    "lost",
    "amount_up",
    "amount_down",
    "pushed_out",
    "pulled_in",
    "open_end",
    "months",
)
FLOW_SQL = "select * from mart_pipeline_flow_window"

# Movements in the order of the bridge, with the sign they carry.
MOVEMENTS = (
    ("created", 1),
    ("amount_up", 1),
    ("amount_down", -1),
    ("won", -1),
    ("lost", -1),
)


def flow_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "flow", t("Pipeline flow")
    reason = unavailable_reason(con, t, "mart_pipeline_flow_window", FLOW_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    bridge = fetch(con, FLOW_SQL)[0]
    if not bridge["months"]:
        return Section(
            key,
            title,
            unavailable=t("Not available yet: mart_pipeline_flow has no month in the window."),
        )
    fmt = ctx.fmt
    intro = t(
        "Open pipeline from {start} ({open_start}) to {end} ({open_end}), month by month over "
        "{months} months: what was created, grew, shrank, was won and was lost.",
        start=fmt.date(bridge["period_start"]),
        open_start=fmt.money_compact(bridge["open_start"]),
        end=fmt.date(bridge["period_end"]),
        open_end=fmt.money_compact(bridge["open_end"]),
        months=fmt.count(bridge["months"]),
    )
    # Amounts are the bridge's unit: deals without one move no money, however many there are.
    measures = read_measures(con)
    amounts = open_without_amount_note(measure(measures, "open_pipeline_amount"), ctx)
    if amounts:
        intro = f"{intro} {amounts}"
    entered = flow_created_note(measures, ctx)
    if entered:
        intro = f"{intro} {entered}"
    blocks = (
        charts.chart(waterfall_figure(bridge, ctx), "chart-flow", 380, ctx),
        Note(
            t(
                "Deals open at both ends of a month whose expected close date moved later "
                "(pushed out): {pushed}; moved earlier (pulled in): {pulled}, summed over the "
                "months.",
                pushed=fmt.money(bridge["pushed_out"]),
                pulled=fmt.money(bridge["pulled_in"]),
            )
        ),
        flow_table(bridge, ctx),
    )
    return Section(key, title, intro=intro, blocks=blocks)


def movement_label(movement: str, ctx: ReportContext) -> str:
    t = ctx.t
    return {
        "open_start": t("Open at start"),
        "created": t("Created"),
        "amount_up": t("Amounts raised"),
        "amount_down": t("Amounts cut"),
        "won": t("Won"),
        "lost": t("Lost"),
        "open_end": t("Open at end"),
    }[movement]


def waterfall_figure(bridge: Row, ctx: ReportContext) -> go.Figure:
    fmt = ctx.fmt
    steps = [("open_start", bridge["open_start"], "absolute")]
    steps += [(name, sign * (bridge[name] or 0), "relative") for name, sign in MOVEMENTS]
    steps.append(("open_end", bridge["open_end"], "total"))
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            showlegend=False,
            xaxis={"type": "category"},
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s"},
        )
    )
    figure.add_waterfall(
        x=[movement_label(name, ctx) for name, _, _ in steps],
        y=[value for _, value, _ in steps],
        measure=[measure for _, _, measure in steps],
        connector={"line": {"color": charts.GRID}},
        increasing={"marker": {"color": charts.WON}},
        decreasing={"marker": {"color": charts.LOST}},
        totals={"marker": {"color": charts.FORECAST}},
        customdata=[fmt.money(value) for _, value, _ in steps],
        hovertemplate="%{x}<br>%{customdata}<extra></extra>",
    )
    return figure


def flow_table(bridge: Row, ctx: ReportContext) -> Table:
    fmt = ctx.fmt
    names = ["open_start", *(name for name, _ in MOVEMENTS), "open_end"]
    signs = dict(MOVEMENTS)
    rows = tuple(
        (
            Cell(movement_label(name, ctx)),
            Cell(
                ("− " if signs.get(name) == -1 else "+ " if signs.get(name) == 1 else "")
                + fmt.money(bridge[name])
            ),
        )
        for name in names
    )
    return Table((Column(ctx.t("Movement"), numeric=False), Column(ctx.currency)), rows)
