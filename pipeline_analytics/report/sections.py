"""The report's sections: each reads aggregates from the warehouse and returns a `Section`.

Only aggregates leave the warehouse (one row per KPI, month, stage, owner or histogram bin), so the
report's size does not grow with the number of deals. A section whose table is missing or empty
says so instead of failing, so a report can be produced at every stage of a build.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import Any

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.formatting import Formatter, is_missing
from pipeline_analytics.report.model import (
    Block,
    Cell,
    Column,
    Heading,
    KpiCard,
    KpiValue,
    Note,
    ReportContext,
    Section,
    Table,
)
from pipeline_analytics.warehouse import table_exists

Row = dict[str, Any]
SectionBuilder = Callable[[duckdb.DuckDBPyConnection, ReportContext], Section]

# Bin widths a reader takes in at a glance: days, weeks, months, quarters, years.
DAY_BIN_WIDTHS = (1, 2, 3, 7, 14, 30, 60, 90, 180, 365)
TARGET_BINS = 24


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    cursor = con.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def unavailable_reason(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """Why a section built on `table` cannot be shown yet, or None when it can."""
    if not table_exists(con, table):
        return f"Not available yet: the warehouse has no {table} table."
    if not fetch(con, f"select 1 as present from {table} limit 1"):
        return f"Not available yet: {table} has no rows."
    return None


# --- Headline numbers ---------------------------------------------------------------------------

KPI_COLUMNS = (
    "open_deals",
    "open_pipeline_base",
    "won_deals",
    "lost_deals",
    "win_rate",
    "win_rate_amount",
    "avg_won_size",
    "median_won_size",
    "mean_cycle_days_won",
    "median_cycle_days_won",
    "sales_velocity_per_day",
)


def kpi_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    key, title = "kpis", "Headline numbers"
    reason = unavailable_reason(con, "mart_kpis")
    if reason:
        return Section(key, title, unavailable=reason)
    rows = fetch(
        con,
        f"select {', '.join(KPI_COLUMNS)}, lookback_days, window_start from mart_kpis "
        "where as_of = ?",
        [ctx.as_of],
    )
    if not rows:
        return Section(
            key,
            title,
            unavailable=f"Not available yet: mart_kpis has no row for {ctx.fmt.date(ctx.as_of)}.",
        )
    kpis, fmt = rows[0], ctx.fmt

    def value(column: str, show: Callable[[Any], str], label: str = "") -> KpiValue:
        return KpiValue(key=column, value=kpis[column], text=show(kpis[column]), label=label)

    cards = (
        KpiCard(
            "Open pipeline",
            value("open_pipeline_base", fmt.money_compact),
            (value("open_deals", fmt.count, "open deals"),),
            hint=fmt.money(kpis["open_pipeline_base"]),
        ),
        KpiCard(
            "Win rate",
            value("win_rate", fmt.percent),
            (
                value("win_rate_amount", fmt.percent, "by amount"),
                value("won_deals", fmt.count, "won"),
                value("lost_deals", fmt.count, "lost"),
            ),
            hint="won ÷ (won + lost), by number of deals",
        ),
        KpiCard(
            "Average won deal",
            value("avg_won_size", fmt.money_compact),
            (value("median_won_size", fmt.money_compact, "median"),),
            hint=fmt.money(kpis["avg_won_size"]),
        ),
        KpiCard(
            "Sales cycle, won deals",
            value("mean_cycle_days_won", fmt.days),
            (value("median_cycle_days_won", fmt.days, "median"),),
            hint="mean days from creation to close",
        ),
        KpiCard(
            "Sales velocity per day",
            value("sales_velocity_per_day", fmt.money_compact),
            hint="open deals × win rate × average won deal ÷ mean cycle days",
        ),
    )
    intro = (
        f"Open pipeline as of {fmt.date(ctx.as_of)}. Win rates, deal sizes and cycle times cover "
        f"deals closed in the {fmt.count(kpis['lookback_days'])} days from "
        f"{fmt.date(kpis['window_start'])} to {fmt.date(ctx.as_of)}."
    )
    return Section(key, title, intro=intro, cards=cards)


# --- Bookings history and forecast --------------------------------------------------------------

FORECAST_COMPONENT = "open_pipeline"


@dataclass(frozen=True)
class ForecastRun:
    run_id: int
    as_of: datetime | None
    method: str | None
    months: tuple[Row, ...]

    @property
    def has_bands(self) -> bool:
        return all(m["p10"] is not None and m["p90"] is not None for m in self.months)


def latest_forecast(con: duckdb.DuckDBPyConnection) -> ForecastRun | None:
    """The newest stored run that has an open-pipeline forecast, with its months."""
    if unavailable_reason(con, "forecast_runs") or unavailable_reason(con, "forecast_bookings"):
        return None
    runs = fetch(
        con,
        """
        select r.run_id, r.as_of, r.method
        from forecast_runs as r
        where exists (
            select 1 from forecast_bookings as b
            where b.run_id = r.run_id and b.component = ?
        )
        order by r.created_at desc nulls last, r.run_id desc
        limit 1
        """,
        [FORECAST_COMPONENT],
    )
    if not runs:
        return None
    run = runs[0]
    months = fetch(
        con,
        "select month, mean, p10, p50, p90 from forecast_bookings "
        "where run_id = ? and component = ? order by month",
        [run["run_id"], FORECAST_COMPONENT],
    )
    return ForecastRun(run["run_id"], run["as_of"], run["method"], tuple(months))


def bookings_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    key, title = "bookings", "Bookings: history and forecast"
    reason = unavailable_reason(con, "mart_kpis_monthly")
    if reason:
        return Section(key, title, unavailable=reason)
    history = fetch(
        con, "select month, won_amount_base, won_deals from mart_kpis_monthly order by month"
    )
    forecast = latest_forecast(con)
    figure = bookings_figure(history, forecast, ctx)
    blocks: list[Block] = [charts.chart(figure, "chart-bookings", height=380)]
    if forecast is None:
        blocks.append(
            Note(
                "Forecast not available yet: no forecast run is stored in the warehouse.",
                tone="unavailable",
            )
        )
    else:
        if not forecast.has_bands:
            blocks.append(
                Note("The forecast shows expected values; bands arrive with the forecast engine.")
            )
        blocks.append(forecast_table(forecast, ctx.fmt))
    intro = (
        f"Won amount per month in {ctx.currency}; the current month, shown lighter, runs to "
        f"{ctx.fmt.date(ctx.as_of)}."
    )
    if forecast is not None:
        intro += (
            f" The forecast line is the expected bookings from the open pipeline "
            f"(run {forecast.run_id}"
            + (f", method {forecast.method}" if forecast.method else "")
            + (f", as of {ctx.fmt.date(forecast.as_of)}" if forecast.as_of else "")
            + ")."
        )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def bookings_figure(
    history: list[Row], forecast: ForecastRun | None, ctx: ReportContext
) -> go.Figure:
    fmt = ctx.fmt
    current_month = date(ctx.as_of.year, ctx.as_of.month, 1)
    figure = go.Figure(
        layout=charts.base_layout(
            fmt,
            barmode="overlay",
            legend={"traceorder": "normal"},
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s", "rangemode": "tozero"},
            xaxis={"type": "date", "tickformat": "%b %Y"},
        )
    )
    figure.add_bar(
        name="Won",
        x=[row["month"] for row in history],
        y=[row["won_amount_base"] for row in history],
        marker_color=[
            charts.WON_LIGHT if row["month"] == current_month else charts.WON for row in history
        ],
        customdata=[
            [
                fmt.month(row["month"]) + (" (to date)" if row["month"] == current_month else ""),
                fmt.money(row["won_amount_base"]),
                fmt.count(row["won_deals"]),
            ]
            for row in history
        ],
        hovertemplate="%{customdata[0]}<br>Won %{customdata[1]} in %{customdata[2]} deals"
        "<extra></extra>",
    )
    if forecast is not None:
        add_forecast_traces(figure, forecast, fmt)
    return figure


def add_forecast_traces(figure: go.Figure, forecast: ForecastRun, fmt: Formatter) -> None:
    months = [m["month"] for m in forecast.months]
    if forecast.has_bands:
        figure.add_scatter(
            x=months,
            y=[m["p10"] for m in forecast.months],
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
        )
        figure.add_scatter(
            name="P10–P90",
            x=months,
            y=[m["p90"] for m in forecast.months],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=charts.FORECAST_BAND,
            hoverinfo="skip",
        )
    band = (
        [f"<br>P10–P90 {fmt.money(m['p10'])} – {fmt.money(m['p90'])}" for m in forecast.months]
        if forecast.has_bands
        else ["" for _ in forecast.months]
    )
    figure.add_scatter(
        name="Forecast (expected)",
        x=months,
        y=[m["mean"] for m in forecast.months],
        mode="lines+markers",
        line={"color": charts.FORECAST, "width": 2, "dash": "dot"},
        marker={"size": 6},
        customdata=[
            [fmt.month(m["month"]), fmt.money(m["mean"]), band_text]
            for m, band_text in zip(forecast.months, band, strict=True)
        ],
        hovertemplate="%{customdata[0]}<br>Expected %{customdata[1]}%{customdata[2]}"
        "<extra>forecast</extra>",
    )


def forecast_table(forecast: ForecastRun, fmt: Formatter) -> Table:
    columns = [Column("Month", numeric=False), Column("Expected")]
    if forecast.has_bands:
        columns += [Column("P10"), Column("P50"), Column("P90")]
    rows = []
    for m in forecast.months:
        cells = [Cell(fmt.month(m["month"])), Cell(fmt.money(m["mean"]))]
        if forecast.has_bands:
            cells += [Cell(fmt.money(m[p])) for p in ("p10", "p50", "p90")]
        rows.append(tuple(cells))
    return Table(
        tuple(columns), tuple(rows), caption="Forecast bookings from the open pipeline by month"
    )


# --- Stage funnel --------------------------------------------------------------------------------


def funnel_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    key, title = "funnel", "Stage funnel"
    reason = unavailable_reason(con, "mart_stage_conversion")
    if reason:
        return Section(key, title, unavailable=reason)
    rows = fetch(
        con,
        """
        select pipeline, stage, reached, advanced, lost_here, open_here,
            conversion_rate, win_rate_from_stage
        from mart_stage_conversion
        order by pipeline, stage_order
        """,
    )
    pipelines = [(name, list(stages)) for name, stages in groupby(rows, lambda r: r["pipeline"])]
    blocks: list[Block] = []
    for number, (pipeline, stages) in enumerate(pipelines, start=1):
        if len(pipelines) > 1:
            blocks.append(Heading(f"Pipeline: {pipeline}"))
        blocks.append(
            charts.chart(
                funnel_figure(stages, ctx.fmt),
                f"chart-funnel-{number}",
                height=90 + 46 * len(stages),
            )
        )
        blocks.append(funnel_table(stages, ctx.fmt))
    intro = (
        "Deals that reached each open stage (skipped stages count as passed). Conversion is the "
        "share of deals that left the stage by advancing rather than being lost; open deals are "
        "not counted as losses. Win rate from stage = won ÷ (won + lost) among the deals that "
        "reached it."
    )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def funnel_figure(stages: list[Row], fmt: Formatter) -> go.Figure:
    figure = go.Figure(
        layout=charts.base_layout(
            fmt,
            margin={"l": 160, "r": 24, "t": 8, "b": 8},
            yaxis={"gridcolor": "rgba(0,0,0,0)", "automargin": True},
            xaxis={"visible": False},
            showlegend=False,
        )
    )
    figure.add_funnel(
        y=[charts.label(s["stage"]) for s in stages],
        x=[s["reached"] for s in stages],
        text=[funnel_bar_text(s, fmt) for s in stages],
        textinfo="text",
        textposition="inside",
        insidetextanchor="middle",
        textfont={"color": "white"},
        marker={"color": charts.FUNNEL},
        connector={"fillcolor": charts.GRID, "line": {"width": 0}},
        customdata=[
            [
                fmt.count(s["reached"]),
                fmt.count(s["advanced"]),
                fmt.count(s["lost_here"]),
                fmt.count(s["open_here"]),
                fmt.percent(s["conversion_rate"]),
                fmt.percent(s["win_rate_from_stage"]),
            ]
            for s in stages
        ],
        hovertemplate="<b>%{y}</b><br>Reached %{customdata[0]}<br>Advanced %{customdata[1]}, "
        "lost here %{customdata[2]}, open here %{customdata[3]}<br>Conversion %{customdata[4]}"
        "<br>Win rate from stage %{customdata[5]}<extra></extra>",
    )
    return figure


def funnel_bar_text(stage: Row, fmt: Formatter) -> str:
    reached = fmt.count(stage["reached"])
    if is_missing(stage["conversion_rate"]):
        return reached  # no deal has left this stage yet
    return f"{reached} · {fmt.percent(stage['conversion_rate'])} advance"


def funnel_table(stages: list[Row], fmt: Formatter) -> Table:
    columns = (
        Column("Stage", numeric=False),
        Column("Reached"),
        Column("Advanced"),
        Column("Lost here"),
        Column("Open here"),
        Column("Conversion"),
        Column("Win rate from stage"),
    )
    rows = tuple(
        (
            Cell(s["stage"]),
            Cell(fmt.count(s["reached"])),
            Cell(fmt.count(s["advanced"])),
            Cell(fmt.count(s["lost_here"])),
            Cell(fmt.count(s["open_here"])),
            Cell(fmt.percent(s["conversion_rate"])),
            Cell(fmt.percent(s["win_rate_from_stage"])),
        )
        for s in stages
    )
    return Table(columns, rows)


# --- Time to close -------------------------------------------------------------------------------

# Closed deals in the trailing window, as in mart_kpis: as_of - lookback_days < closed_at <= as_of.
# A deal closed before it was created has no meaningful cycle (counted, not binned).
WINDOW_DEALS = """
    with closed_in_window as (
        select c.status, c.cycle_days, c.cycle_days >= 0 as has_cycle
        from mart_deal_cycle as c, build_params as p
        where
            c.status in ('won', 'lost')
            and c.closed_at > p.as_of - to_days(p.lookback_days)
            and c.closed_at <= p.as_of
    )
"""


@dataclass(frozen=True)
class CycleHistogram:
    """Won and lost deals per bin of days from creation to close; the last bin may be open-ended."""

    bin_width: int
    bin_starts: tuple[int, ...]
    open_ended_last_bin: bool
    won: tuple[int, ...]
    lost: tuple[int, ...]
    won_median_days: float | None
    lost_median_days: float | None
    excluded_deals: int

    def bin_label(self, index: int) -> str:
        start = self.bin_starts[index]
        if self.open_ended_last_bin and index == len(self.bin_starts) - 1:
            return f"≥ {start}"
        return f"{start}–{start + self.bin_width}"


def nice_bin_width(upper_days: float) -> int:
    """The smallest readable width giving at most TARGET_BINS bins up to `upper_days`."""
    raw = upper_days / TARGET_BINS
    for width in DAY_BIN_WIDTHS:
        if width >= raw:
            return width
    return 365 * math.ceil(raw / 365)


def cycle_histogram(con: duckdb.DuckDBPyConnection) -> CycleHistogram | None:
    """Bin cycle days in SQL: bins cover up to the 99th percentile, the rest share an open bin."""
    summary = fetch(
        con,
        WINDOW_DEALS
        + """
        select
            count(*) filter (where has_cycle) as binned_deals,
            count(*) filter (where has_cycle is not true) as excluded_deals,
            quantile_cont(cycle_days, 0.99) filter (where has_cycle) as upper_days,
            quantile_cont(cycle_days, 0.5) filter (where has_cycle and status = 'won')
                as won_median_days,
            quantile_cont(cycle_days, 0.5) filter (where has_cycle and status = 'lost')
                as lost_median_days
        from closed_in_window
        """,
    )[0]
    if summary["binned_deals"] == 0:
        return None
    width = nice_bin_width(summary["upper_days"])
    last_bin = max(1, math.ceil(summary["upper_days"] / width))
    counts = fetch(
        con,
        WINDOW_DEALS
        + """
        select status, least(floor(cycle_days / ?), ?)::integer as bin, count(*) as deals
        from closed_in_window
        where has_cycle
        group by all
        """,
        [width, last_bin],
    )
    by_bin = {(row["status"], row["bin"]): row["deals"] for row in counts}
    open_ended = any(row["bin"] == last_bin for row in counts)
    bins = range(last_bin + 1 if open_ended else last_bin)
    return CycleHistogram(
        bin_width=width,
        bin_starts=tuple(b * width for b in bins),
        open_ended_last_bin=open_ended,
        won=tuple(by_bin.get(("won", b), 0) for b in bins),
        lost=tuple(by_bin.get(("lost", b), 0) for b in bins),
        won_median_days=summary["won_median_days"],
        lost_median_days=summary["lost_median_days"],
        excluded_deals=summary["excluded_deals"],
    )


def cycle_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    key, title = "cycle", "Time to close"
    reason = unavailable_reason(con, "mart_deal_cycle")
    if reason:
        return Section(key, title, unavailable=reason)
    histogram = cycle_histogram(con)
    if histogram is None:
        return Section(
            key,
            title,
            unavailable="Not available yet: no deals closed in the trailing window.",
        )
    fmt = ctx.fmt
    intro = (
        f"Days from creation to close of the deals closed in the {fmt.count(ctx.lookback_days)} "
        f"days to {fmt.date(ctx.as_of)}. Median: won {fmt.days(histogram.won_median_days)} "
        f"({fmt.count(sum(histogram.won))} deals), lost {fmt.days(histogram.lost_median_days)} "
        f"({fmt.count(sum(histogram.lost))} deals)."
    )
    blocks: list[Block] = [charts.chart(cycle_figure(histogram, fmt), "chart-cycle", height=340)]
    if histogram.excluded_deals:
        blocks.append(
            Note(
                f"{fmt.count(histogram.excluded_deals)} closed deals have a close date before "
                "their creation date and are left out (see the data quality checks)."
            )
        )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def cycle_figure(histogram: CycleHistogram, fmt: Formatter) -> go.Figure:
    labels = [histogram.bin_label(i) for i in range(len(histogram.bin_starts))]
    figure = go.Figure(
        layout=charts.base_layout(
            fmt,
            barmode="group",
            bargap=0.15,
            bargroupgap=0.05,
            xaxis={
                "title": {"text": "days from creation to close", "standoff": 12},
                "type": "category",
                "automargin": True,
            },
            yaxis={"title": {"text": "deals"}, "rangemode": "tozero"},
        )
    )
    for name, counts, colour in (
        ("Won", histogram.won, charts.WON),
        ("Lost", histogram.lost, charts.LOST),
    ):
        figure.add_bar(
            name=name,
            x=labels,
            y=list(counts),
            marker_color=colour,
            customdata=[[fmt.count(c)] for c in counts],
            hovertemplate=f"%{{x}} days<br>{name} %{{customdata[0]}} deals<extra></extra>",
        )
    return figure


# --- Reps ----------------------------------------------------------------------------------------


def rep_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    key, title = "reps", "Reps"
    reason = unavailable_reason(con, "mart_rep_performance")
    if reason:
        return Section(key, title, unavailable=reason)
    reps = fetch(
        con,
        """
        select owner, open_deals, open_pipeline_base, load_ratio, over_allocated,
            under_allocated, won_deals, lost_deals, win_rate, avg_won_size,
            median_cycle_days_won, sales_velocity_per_day
        from mart_rep_performance
        order by open_pipeline_base desc nulls last, owner
        """,
    )
    intro = (
        "Open pipeline per owner as of the report date; results over the same window as the "
        "headline numbers. Load = the owner's open deals ÷ the median across owners with open "
        "deals: above 1.5 is over-allocated, below 0.5 under-allocated. Click a column header to "
        "sort."
    )
    return Section(key, title, intro=intro, blocks=(rep_table(reps, ctx.fmt, ctx.currency),))


def rep_table(reps: list[Row], fmt: Formatter, currency: str) -> Table:
    columns = (
        Column("Owner", numeric=False),
        Column("Open deals"),
        Column(f"Open pipeline ({currency})"),
        Column("Load"),
        Column("Won"),
        Column("Lost"),
        Column("Win rate"),
        Column(f"Avg won deal ({currency})"),
        Column("Median cycle (days)"),
        Column(f"Velocity per day ({currency})"),
    )
    rows = tuple(
        (
            Cell(rep["owner"] if rep["owner"] is not None else "(no owner)", rep["owner"] or ""),
            number_cell(rep["open_deals"], fmt.count),
            number_cell(rep["open_pipeline_base"], fmt.number),
            load_cell(rep, fmt),
            number_cell(rep["won_deals"], fmt.count),
            number_cell(rep["lost_deals"], fmt.count),
            number_cell(rep["win_rate"], fmt.percent),
            number_cell(rep["avg_won_size"], fmt.number),
            number_cell(rep["median_cycle_days_won"], fmt.day_count),
            number_cell(rep["sales_velocity_per_day"], fmt.number),
        )
        for rep in reps
    )
    return Table(columns, rows, sortable=True)


def number_cell(value: Any, show: Callable[[Any], str]) -> Cell:
    return Cell(show(value), value)


def load_cell(rep: Row, fmt: Formatter) -> Cell:
    if rep["over_allocated"]:
        return Cell(fmt.ratio(rep["load_ratio"]), rep["load_ratio"], flag="over-allocated")
    if rep["under_allocated"]:
        return Cell(
            fmt.ratio(rep["load_ratio"]),
            rep["load_ratio"],
            flag="under-allocated",
            flag_tone="calm",
        )
    return Cell(fmt.ratio(rep["load_ratio"]), rep["load_ratio"])


SECTIONS: tuple[SectionBuilder, ...] = (
    kpi_section,
    bookings_section,
    funnel_section,
    cycle_section,
    rep_section,
)
