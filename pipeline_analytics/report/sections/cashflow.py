"""3. Cash flow: billings, collections and recognized revenue per month, with P10–P90 bands.

A forecast step skipped or failed after the stored run shows its message instead of the older
cash flow; a cash flow of zeros because no deal has an amount says so instead of charting zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.data import Row, fetch, table_columns, unavailable_reason
from pipeline_analytics.report.forecast_data import (
    cash_has_amounts,
    forecast_problem,
    latest_run,
    step_problem_text,
)
from pipeline_analytics.report.model import Cell, Column, ReportContext, Section, Table


@dataclass(frozen=True)
class CashSeries:
    """One line of the chart: its columns in forecast_cashflow (a band only when stored)."""

    key: str
    mean: str
    p10: str | None
    p90: str | None
    colour: str
    band: str


SERIES = (
    CashSeries(
        "billings",
        "billings_mean",
        "billings_p10",
        "billings_p90",
        charts.FORECAST,
        "rgba(52, 89, 143, 0.16)",
    ),
    CashSeries(
        "collections",
        "collections_mean",
        "collections_p10",
        "collections_p90",
        charts.WON,
        "rgba(47, 125, 109, 0.16)",
    ),
    CashSeries(
        "revenue",
        "recognized_revenue",
        "recognized_revenue_p10",
        "recognized_revenue_p90",
        charts.ACCENT,
        "rgba(181, 138, 46, 0.16)",
    ),
)
REQUIRED = (
    "run_id",
    "month",
    *(c for s in SERIES[:2] for c in (s.mean, s.p10, s.p90)),
    "recognized_revenue",
)


def series_label(series: CashSeries, ctx: ReportContext) -> str:
    t = ctx.t
    return {
        "billings": t("Billings"),
        "collections": t("Collections"),
        "revenue": t("Recognized revenue"),
    }[series.key]


def stored_series(con: duckdb.DuckDBPyConnection) -> tuple[CashSeries, ...]:
    """The series with the band columns this warehouse has (revenue bands came later)."""
    present = table_columns(con, "forecast_cashflow")
    return tuple(
        s if {s.p10, s.p90} <= present else CashSeries(s.key, s.mean, None, None, s.colour, s.band)
        for s in SERIES
    )


def cashflow_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "cashflow", t("Cash flow")
    run = latest_run(con)
    problem = forecast_problem(con, run)
    if problem is not None:
        return Section(key, title, unavailable=step_problem_text(problem, t))
    reason = unavailable_reason(con, t, "forecast_cashflow", REQUIRED)
    if reason:
        return Section(key, title, unavailable=reason)
    if run is None:
        return Section(
            key,
            title,
            unavailable=t("Not available yet: no forecast run is stored in the warehouse."),
        )
    series = stored_series(con)
    months = fetch(
        con,
        "select * from forecast_cashflow where run_id = $run order by month",
        {"run": run.run_id},
    )
    if not months:
        return Section(
            key,
            title,
            unavailable=t("Not available yet: the forecast run has no cash flow for these months."),
        )
    if not cash_has_amounts(con, run):
        return Section(
            key,
            title,
            unavailable=t(
                "The forecast has no cash flow: no open or won deal in it has an amount."
            ),
        )
    intro = t(
        "Invoices (billings), payments received (collections) and revenue recognised ratably, "
        "per month, from the simulated won deals and the deals already won, under the payment "
        "terms in the config. Bands are P10–P90 of the simulated totals."
    )
    blocks = (
        charts.chart(cashflow_figure(months, series, ctx), "chart-cashflow", 380, ctx),
        cashflow_table(months, series, ctx),
    )
    return Section(key, title, intro=intro, blocks=blocks)


def cashflow_figure(
    months: list[Row], series: tuple[CashSeries, ...], ctx: ReportContext
) -> go.Figure:
    fmt = ctx.fmt
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s", "rangemode": "tozero"},
            xaxis=charts.month_axis(len(months)),
        )
    )
    x = [m["month"] for m in months]
    for s in series:
        label = series_label(s, ctx)
        if s.p10 and s.p90:
            charts.add_band(
                figure,
                x,
                [m[s.p10] for m in months],
                [m[s.p90] for m in months],
                fillcolor=s.band,
                legendgroup=s.key,
            )
        figure.add_scatter(
            name=label,
            legendgroup=s.key,
            x=x,
            y=[m[s.mean] for m in months],
            mode="lines+markers",
            line={"color": s.colour, "width": 2},
            customdata=[
                [fmt.month(m["month"]), fmt.money(m[s.mean]), band(m, s, ctx)] for m in months
            ],
            hovertemplate="%{customdata[0]}<br>"
            + label
            + " %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
        )
    return figure


def band(month: Row, series: CashSeries, ctx: ReportContext) -> str:
    if not (series.p10 and series.p90):
        return ""
    return f"P10–P90 {ctx.fmt.money(month[series.p10])} – {ctx.fmt.money(month[series.p90])}"


def cashflow_table(months: list[Row], series: tuple[CashSeries, ...], ctx: ReportContext) -> Table:
    t, fmt = ctx.t, ctx.fmt
    columns = [Column(t("Month"), numeric=False)]
    for s in series:
        columns.append(Column(series_label(s, ctx)))
        if s.p10 and s.p90:
            columns.append(Column("P10–P90", numeric=False))
    rows = []
    for m in months:
        cells = [Cell(fmt.month(m["month"]))]
        for s in series:
            cells.append(Cell(fmt.money(m[s.mean])))
            if s.p10 and s.p90:
                cells.append(Cell(f"{fmt.money(m[s.p10])} – {fmt.money(m[s.p90])}"))
        rows.append(tuple(cells))
    return Table(
        tuple(columns), tuple(rows), caption=t("Cash flow by month (expected values and P10–P90)")
    )
