"""6. Bottlenecks and stuck deals, the team, and lead sources."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.charts import label
from pipeline_analytics.report.data import Row, fetch, unavailable_reason, unreadable_reason
from pipeline_analytics.report.forecast_data import ForecastRun, forecast_problem, latest_run
from pipeline_analytics.report.formatting import is_missing
from pipeline_analytics.report.measurability import (
    Measure,
    all_time_win_rate_blocks,
    measure,
    no_lost_deals_warning,
    not_measurable,
    read_measures,
    stage_history_note,
)
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
from pipeline_analytics.report.sections.capacity import capacity_blocks
from pipeline_analytics.report.sections.leads import lead_source_blocks
from pipeline_analytics.report.targets_data import (
    RunTarget,
    beyond_horizon,
    period_label,
    run_targets,
)

# The marts write a missing owner or lead source as '(none)'.
NONE_MARKER = "(none)"
STUCK_DEALS_SHOWN = 10


def number_cell(value: Any, show: Callable[[Any], str]) -> Cell:
    return Cell(show(value), value)


def name_cell(name: str | None, missing: str) -> Cell:
    if name is None or name == NONE_MARKER:
        return Cell(missing, "")
    return Cell(name, name)


def unmeasured_cell(ctx: ReportContext) -> Cell:
    """A cell the data cannot fill: said in words, sorted last."""
    return Cell(not_measurable(ctx), None)


def win_rate_notes(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> tuple[Note, ...]:
    """The no-lost-deals warning above a table of win rates (each would read 100%)."""
    if measure(read_measures(con), "win_rate").reason != "no_lost_deals":
        return ()
    return (Note(no_lost_deals_warning(ctx)),)


def all_missing(rows: list[Row], column: str) -> bool:
    """Every row is the "(none)" row: the export has no such column (or it is empty)."""
    return bool(rows) and all(row[column] in (None, NONE_MARKER) for row in rows)


# --- Bottlenecks ----------------------------------------------------------------------------------

BOTTLENECK_COLUMNS = (
    "pipeline",
    "stage",
    "stage_order",
    "conversion_rate",
    "median_days",
    "p90_days",
    "open_deals",
    "stuck_deals",
    "stuck_value_base",
    "days_per_advance",
    "rank",
)

# The largest stuck deals first (size_rank 1), at most as many as the parameter.
STUCK_DEALS_SQL = "select * from mart_stuck_deals where size_rank <= ? order by size_rank"
STUCK_DEAL_COLUMNS = (
    "name",
    "account",
    "owner",
    "stage",
    "amount_base",
    "days_in_stage",
    "p90_days",
    "size_rank",
)


def bottlenecks_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "bottlenecks", t("Bottlenecks and stuck deals")
    reason = unavailable_reason(con, t, "mart_bottlenecks", BOTTLENECK_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    # conversion_measured is read when present (an older build's mart may lack it).
    stages = fetch(con, "select * from mart_bottlenecks order by pipeline, rank, stage_order")
    measures = read_measures(con)
    conversion = measure(measures, "stage_conversion")
    timing = measure(measures, "time_in_stage")
    multi = len({s["pipeline"] for s in stages}) > 1
    columns = (
        *((Column(t("Pipeline"), numeric=False),) if multi else ()),
        Column(t("Rank")),
        Column(t("Stage"), numeric=False),
        Column(t("Conversion")),
        Column(t("Median days in stage")),
        Column(t("Days per deal moved on")),
        Column(t("Open deals")),
        Column(t("Stuck deals")),
        Column(t("Stuck value ({currency})", currency=ctx.currency)),
    )
    rows = tuple(bottleneck_row(s, multi, conversion, timing, ctx) for s in stages)
    blocks: list[Block] = [
        Note(text, "unavailable") for text in bottleneck_notes(conversion, timing, ctx)
    ]
    if any(not is_missing(s["stuck_value_base"]) for s in stages):
        blocks.append(charts.chart(stuck_figure(stages, ctx, multi), "chart-stuck", 320, ctx))
    blocks.append(Table(columns, rows, sortable=True))
    if timing.measurable:
        blocks += stuck_deal_blocks(con, ctx)
    intro = t(
        "Stages ranked by the days of work they take per deal that moves on (median days in the "
        "stage ÷ conversion), 1 = worst: a stage ranks high by being slow, by losing deals, or "
        "both. A deal is stuck when it has been in its stage longer than 9 in 10 of the deals "
        "that left that stage (P90)."
    )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def bottleneck_row(
    stage: Row, multi: bool, conversion: Measure, timing: Measure, ctx: ReportContext
) -> tuple[Cell, ...]:
    """One stage's row; a part the data cannot measure reads "not measurable", never 100% or 0."""
    fmt = ctx.fmt
    converts = conversion.measurable and stage.get("conversion_measured", True) is not False
    scored = converts and timing.measurable
    return (
        *((Cell(stage["pipeline"], stage["pipeline"]),) if multi else ()),
        number_cell(stage["rank"], fmt.count) if scored else unmeasured_cell(ctx),
        Cell(stage["stage"], stage["stage_order"]),
        number_cell(stage["conversion_rate"], fmt.percent) if converts else unmeasured_cell(ctx),
        number_cell(stage["median_days"], fmt.day_count)
        if timing.measurable
        else unmeasured_cell(ctx),
        days_per_advance_cell(stage["days_per_advance"], ctx) if scored else unmeasured_cell(ctx),
        number_cell(stage["open_deals"], fmt.count),
        number_cell(stage["stuck_deals"], fmt.count) if timing.measurable else unmeasured_cell(ctx),
        number_cell(stage["stuck_value_base"], fmt.number)
        if timing.measurable
        else unmeasured_cell(ctx),
    )


def bottleneck_notes(conversion: Measure, timing: Measure, ctx: ReportContext) -> list[str]:
    """Why the ranking, the conversion or the stuck deals are missing, when they are."""
    t = ctx.t
    notes = []
    if not conversion.measurable:
        notes.append(
            t(
                "Conversion and the ranking are not measurable: no lost deal has a known last "
                "stage (see the funnel)."
            )
        )
    if not timing.measurable:
        notes.append(stage_history_note("stuck_deals", timing, ctx))
    return notes


def days_per_advance_cell(value: float | None, ctx: ReportContext) -> Cell:
    """Infinite when no deal moved on: shown as such, sorted above every finite value."""
    if value is not None and math.isinf(value):
        return Cell(ctx.t("no deal moved on"), 1e308)
    return number_cell(value, ctx.fmt.day_count)


def stuck_figure(stages: list[Row], ctx: ReportContext, multi: bool) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    ordered = sorted(stages, key=lambda s: (s["pipeline"], s["rank"]))
    names = [label(f"{s['pipeline']} · {s['stage']}" if multi else s["stage"]) for s in ordered]
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            showlegend=False,
            xaxis={"type": "category"},
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s", "rangemode": "tozero"},
        )
    )
    figure.add_bar(
        x=names,
        y=[s["stuck_value_base"] for s in ordered],
        marker_color=charts.LOST,
        customdata=[
            [fmt.money(s["stuck_value_base"]), fmt.count(s["stuck_deals"]), fmt.count(s["rank"])]
            for s in ordered
        ],
        hovertemplate="<b>%{x}</b><br>"
        + t(
            "Stuck: {value} in {deals} deals<br>Rank {rank}",
            value="%{customdata[0]}",
            deals="%{customdata[1]}",
            rank="%{customdata[2]}",
        )
        + "<extra></extra>",
    )
    return figure


def stuck_deal_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    reason = unreadable_reason(con, t, "mart_stuck_deals", STUCK_DEAL_COLUMNS)
    if reason:  # an empty mart is no stuck deal, said below
        return [Note(reason, "unavailable")]
    deals = fetch(con, STUCK_DEALS_SQL, [STUCK_DEALS_SHOWN])
    if not deals:
        return [Note(t("No open deal has been in its stage longer than the stage's P90."))]
    columns = (
        Column(t("Deal"), numeric=False),
        Column(t("Account"), numeric=False),
        Column(t("Owner"), numeric=False),
        Column(t("Stage"), numeric=False),
        Column(t("Amount ({currency})", currency=ctx.currency)),
        Column(t("Days in stage")),
        Column(t("Stage P90 (days)")),
    )
    rows = tuple(
        (
            Cell(d["name"] or "—"),
            Cell(d["account"] or "—"),
            Cell(d["owner"] or "—"),
            Cell(d["stage"]),
            number_cell(d["amount_base"], fmt.number),
            number_cell(d["days_in_stage"], fmt.day_count),
            number_cell(d["p90_days"], fmt.day_count),
        )
        for d in deals
    )
    return [
        Heading(t("The largest stuck deals")),
        Table(columns, rows, caption=t("Stuck open deals, largest first"), sortable=True),
    ]


# --- Team -----------------------------------------------------------------------------------------

REP_COLUMNS = (
    "owner",
    "open_deals",
    "open_pipeline_base",
    "load_ratio",
    "over_allocated",
    "under_allocated",
    "won_deals",
    "lost_deals",
    "win_rate",
    "avg_won_size",
    "median_cycle_days_won",
    "sales_velocity_per_day",
)


REPS_SQL = "select * from mart_rep_performance order by open_pipeline_base desc nulls last, owner"


def team_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "team", t("Team")
    reason = unavailable_reason(con, t, "mart_rep_performance", REP_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    reps = fetch(con, REPS_SQL)
    if all_missing(reps, "owner"):
        missing = t(
            "Owner is not in the export: no deal has one, so there is nothing to show per rep. "
            "Map the owner column in [sources.columns] to see it."
        )
        return Section(key, title, blocks=(Note(missing, "unavailable"),))
    intro = t(
        "Open pipeline per owner at the report date; results over the trailing window. Load = "
        "the owner's open deals ÷ the median across owners with open deals: above 1.5 is "
        "over-allocated, below 0.5 under-allocated. Click a column header to sort."
    )
    return Section(
        key,
        title,
        intro=intro,
        blocks=(
            *win_rate_notes(con, ctx),
            rep_table(reps, ctx),
            *quota_blocks(con, ctx),
            *all_time_win_rate_blocks(con, ctx, "owner"),
            *capacity_blocks(con, ctx),
        ),
    )


def rep_table(reps: list[Row], ctx: ReportContext) -> Table:
    t, fmt, currency = ctx.t, ctx.fmt, ctx.currency
    columns = (
        Column(t("Owner"), numeric=False),
        Column(t("Open deals")),
        Column(t("Open pipeline ({currency})", currency=currency)),
        Column(t("Load")),
        Column(t("Won")),
        Column(t("Lost")),
        Column(t("Win rate")),
        Column(t("Avg won deal ({currency})", currency=currency)),
        Column(t("Median cycle (days)")),
        Column(t("Velocity per day ({currency})", currency=currency)),
    )
    rows = tuple(
        (
            name_cell(rep["owner"], t("(no owner)")),
            number_cell(rep["open_deals"], fmt.count),
            number_cell(rep["open_pipeline_base"], fmt.number),
            load_cell(rep, ctx),
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


def quota_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    """Quota attainment per rep: the owner targets of the latest forecast run (forecast_targets)."""
    run = latest_run(con)
    if forecast_problem(con, run) is not None:
        return []  # a newer forecast step gave up: the stored targets are stale
    quotas = [q for q in run_targets(con, run) if q.owner is not None]
    if run is None or not quotas:
        return []
    t, fmt, currency = ctx.t, ctx.fmt, ctx.currency
    fiscal_start = int(run.config.get("fiscal_year_start_month") or 1)
    columns = (
        Column(t("Owner"), numeric=False),
        Column(t("Period"), numeric=False),
        Column(t("Target ({currency})", currency=currency)),
        Column(t("Closed to date ({currency})", currency=currency)),
        Column(t("Attainment")),
        Column(t("Forecast P50 ({currency})", currency=currency)),
        Column(t("Chance of reaching it")),
    )
    rows = tuple(
        (
            Cell(quota.owner or ""),
            Cell(period_label(quota, fiscal_start, ctx), quota.period_start.isoformat()),
            number_cell(quota.target, fmt.number),
            number_cell(quota.closed_to_date, fmt.number),
            number_cell(quota.attainment, fmt.percent),
            number_cell(quota.p50, fmt.number),
            p_hit_cell(quota, run, ctx),
        )
        for quota in quotas
    )
    intro = t(
        "Closed to date against each rep's target; the chance of reaching it is the share of the "
        "forecast's simulations in which the rep's open deals, and their share of deals not yet "
        "created, bring the period's total to the target."
    )
    return [
        Heading(t("Quota attainment")),
        Note(intro),
        Table(columns, rows, caption=t("Owner targets against the latest forecast")),
    ]


def p_hit_cell(quota: RunTarget, run: ForecastRun, ctx: ReportContext) -> Cell:
    """P(hit), or why there is none: the period ends after the forecast horizon, or no deal known
    at the forecast's date has that owner (forecast/targets.py)."""
    if beyond_horizon(quota, run):
        return Cell(ctx.t("beyond the forecast horizon"), None)
    if is_missing(quota.p_hit):
        return Cell(ctx.t("no deal of this owner in the data"), None)
    return number_cell(quota.p_hit, lambda v: ctx.fmt.percent(v, 0))


def load_cell(rep: Row, ctx: ReportContext) -> Cell:
    text = ctx.fmt.ratio(rep["load_ratio"])
    if rep["over_allocated"]:
        return Cell(text, rep["load_ratio"], flag=ctx.t("over-allocated"))
    if rep["under_allocated"]:
        return Cell(text, rep["load_ratio"], flag=ctx.t("under-allocated"), flag_tone="calm")
    return Cell(text, rep["load_ratio"])


# --- Lead sources ---------------------------------------------------------------------------------

SOURCE_COLUMNS = (
    "lead_source",
    "open_deals",
    "open_pipeline_base",
    "won_deals",
    "lost_deals",
    "won_amount_base",
    "win_rate",
    "avg_won_size",
    "median_cycle_days_won",
    "sales_velocity_per_day",
)


SOURCES_SQL = (
    "select * from mart_source_performance order by won_amount_base desc nulls last, lead_source"
)


def sources_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t, fmt, currency = ctx.t, ctx.fmt, ctx.currency
    key, title = "sources", t("Lead sources")
    reason = unavailable_reason(con, t, "mart_source_performance", SOURCE_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    sources = fetch(con, SOURCES_SQL)
    leads = lead_source_blocks(con, ctx)  # the lead-source section starts at leads, if any
    if all_missing(sources, "lead_source"):
        missing = t(
            "Lead source is not in the export: no deal has one, so there is nothing to show per "
            "source. Map the lead_source column in [sources.columns] to see it."
        )
        return Section(key, title, blocks=(*leads, Note(missing, "unavailable")))
    columns = (
        Column(t("Lead source"), numeric=False),
        Column(t("Open deals")),
        Column(t("Open pipeline ({currency})", currency=currency)),
        Column(t("Won")),
        Column(t("Lost")),
        Column(t("Won amount ({currency})", currency=currency)),
        Column(t("Win rate")),
        Column(t("Avg won deal ({currency})", currency=currency)),
        Column(t("Median cycle (days)")),
        Column(t("Velocity per day ({currency})", currency=currency)),
    )
    rows = tuple(
        (
            name_cell(s["lead_source"], t("(no lead source)")),
            number_cell(s["open_deals"], fmt.count),
            number_cell(s["open_pipeline_base"], fmt.number),
            number_cell(s["won_deals"], fmt.count),
            number_cell(s["lost_deals"], fmt.count),
            number_cell(s["won_amount_base"], fmt.number),
            number_cell(s["win_rate"], fmt.percent),
            number_cell(s["avg_won_size"], fmt.number),
            number_cell(s["median_cycle_days_won"], fmt.day_count),
            number_cell(s["sales_velocity_per_day"], fmt.number),
        )
        for s in sources
    )
    intro = t(
        "Where won business comes from, over the trailing window: bookings, win rate and speed "
        "per lead source. Bubble size is the open pipeline."
    )
    blocks = (
        *leads,
        *win_rate_notes(con, ctx),
        charts.chart(sources_figure(sources, ctx), "chart-sources", 360, ctx),
        Table(columns, rows, sortable=True),
        *all_time_win_rate_blocks(con, ctx, "lead_source"),
    )
    return Section(key, title, intro=intro, blocks=blocks)


def sources_figure(sources: list[Row], ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    names = [
        t("(no lead source)")
        if s["lead_source"] in (None, NONE_MARKER)
        else label(s["lead_source"])
        for s in sources
    ]
    largest = max((s["open_pipeline_base"] or 0 for s in sources), default=0) or 1
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            showlegend=False,
            xaxis={"title": {"text": t("win rate")}, "tickformat": ".0%"},
            yaxis={
                "title": {"text": t("won amount ({currency})", currency=ctx.currency)},
                "tickformat": "~s",
                "rangemode": "tozero",
            },
        )
    )
    figure.add_scatter(
        x=[s["win_rate"] for s in sources],
        y=[s["won_amount_base"] for s in sources],
        mode="markers+text",
        text=names,
        textposition="top center",
        marker={
            "size": [12 + 36 * ((s["open_pipeline_base"] or 0) / largest) ** 0.5 for s in sources],
            "color": charts.FUNNEL,
            "opacity": 0.7,
        },
        customdata=[
            [
                fmt.percent(s["win_rate"]),
                fmt.money(s["won_amount_base"]),
                fmt.money(s["open_pipeline_base"]),
                fmt.count(s["won_deals"]),
            ]
            for s in sources
        ],
        hovertemplate="<b>%{text}</b><br>"
        + t(
            "Win rate {win_rate}<br>Won {won} in {deals} deals<br>Open pipeline {open}",
            win_rate="%{customdata[0]}",
            won="%{customdata[1]}",
            deals="%{customdata[3]}",
            open="%{customdata[2]}",
        )
        + "<extra></extra>",
    )
    return figure
