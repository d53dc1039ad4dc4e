"""Leads, the top of the funnel: the blocks that open the funnel and lead-source sections.

They read `mart_lead_conversion` only. A warehouse without leads (no such mart, or no rows) gets
no blocks, so its report is exactly what it was before leads existed.
"""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.data import Row, fetch, table_columns
from pipeline_analytics.report.model import Block, Cell, Column, Heading, Note, ReportContext, Table

LEAD_COLUMNS = (
    "dimension_value",
    "lead_expiry_days",
    "leads_created",
    "leads_converted",
    "converted_deals_won",
    "leads_open",
    "leads_expired",
    "median_days_to_convert",
    "lead_to_deal_rate",
    "lead_to_won_rate",
)
# The marts write a missing lead source as '(none)'.
NONE_MARKER = "(none)"


def lead_rows(con: duckdb.DuckDBPyConnection, dimension: str) -> list[Row]:
    """The mart's rows of one dimension, most leads first; none when there are no leads."""
    if not {"dimension", *LEAD_COLUMNS} <= table_columns(con, "mart_lead_conversion"):
        return []
    return fetch(
        con,
        f"select {', '.join(LEAD_COLUMNS)} from mart_lead_conversion where dimension = ? "
        "order by leads_created desc, dimension_value",
        [dimension],
    )


def lead_funnel_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    """Leads -> deals -> won, ahead of the stage funnel; nothing when there are no leads."""
    rows = lead_rows(con, "all")
    if not rows:
        return []
    t, fmt = ctx.t, ctx.fmt
    leads = rows[0]
    summary = t(
        "{leads} leads created: {converted} became deals ({deal_rate}) and {won} of those deals "
        "were won ({won_rate} of the leads). Median time from lead to deal: {days}. Not "
        "converted: {open} still open, {expired} expired (older than {expiry} days, counted as "
        "lost).",
        leads=fmt.count(leads["leads_created"]),
        converted=fmt.count(leads["leads_converted"]),
        deal_rate=fmt.percent(leads["lead_to_deal_rate"]),
        won=fmt.count(leads["converted_deals_won"]),
        won_rate=fmt.percent(leads["lead_to_won_rate"]),
        days=fmt.days(leads["median_days_to_convert"]),
        open=fmt.count(leads["leads_open"]),
        expired=fmt.count(leads["leads_expired"]),
        expiry=fmt.count(leads["lead_expiry_days"]),
    )
    return [
        Heading(t("From lead to deal")),
        Note(summary),
        charts.chart(lead_funnel_figure(leads, ctx), "chart-lead-funnel", 180, ctx),
        Heading(t("Deals by stage")),
    ]


def lead_funnel_figure(leads: Row, ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    steps = (
        (t("Leads"), leads["leads_created"], None),
        (t("Became deals"), leads["leads_converted"], leads["lead_to_deal_rate"]),
        (t("Won"), leads["converted_deals_won"], leads["lead_to_won_rate"]),
    )
    figure = charts.funnel_figure_base(ctx)
    figure.add_funnel(
        y=[name for name, _, _ in steps],
        x=[count for _, count, _ in steps],
        text=[
            fmt.count(count)
            if rate is None
            else t("{count} · {rate} of leads", count=fmt.count(count), rate=fmt.percent(rate))
            for _, count, rate in steps
        ],
        textinfo="text",
        textposition="inside",
        insidetextanchor="middle",
        textfont={"color": "white"},
        marker={"color": [charts.FUNNEL, charts.FUNNEL, charts.WON]},
        connector={"fillcolor": charts.GRID, "line": {"width": 0}},
        hoverinfo="skip",
    )
    return figure


def lead_source_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    """Conversion of leads per lead source, ahead of the deals' table; nothing without leads."""
    sources = lead_rows(con, "lead_source")
    if not sources:
        return []
    t, fmt = ctx.t, ctx.fmt
    columns = (
        Column(t("Lead source"), numeric=False),
        Column(t("Leads")),
        Column(t("Became deals")),
        Column(t("Won")),
        Column(t("Lead → deal")),
        Column(t("Lead → won")),
        Column(t("Median days to deal")),
        Column(t("Leads still open")),
        Column(t("Expired leads")),
    )
    rows = tuple(
        (
            Cell(t("(no lead source)"), "")
            if s["dimension_value"] == NONE_MARKER
            else Cell(s["dimension_value"], s["dimension_value"]),
            Cell(fmt.count(s["leads_created"]), s["leads_created"]),
            Cell(fmt.count(s["leads_converted"]), s["leads_converted"]),
            Cell(fmt.count(s["converted_deals_won"]), s["converted_deals_won"]),
            Cell(fmt.percent(s["lead_to_deal_rate"]), s["lead_to_deal_rate"]),
            Cell(fmt.percent(s["lead_to_won_rate"]), s["lead_to_won_rate"]),
            Cell(fmt.day_count(s["median_days_to_convert"]), s["median_days_to_convert"]),
            Cell(fmt.count(s["leads_open"]), s["leads_open"]),
            Cell(fmt.count(s["leads_expired"]), s["leads_expired"]),
        )
        for s in sources
    )
    return [
        Heading(t("Leads by source")),
        Note(
            t(
                "Every lead created by the report date, by the source it came from: how many "
                "became deals and how many of those deals were won."
            )
        ),
        Table(columns, rows, sortable=True),
        Heading(t("Deals by source")),
    ]
