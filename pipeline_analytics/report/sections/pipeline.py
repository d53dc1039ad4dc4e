"""4. Funnel and 5. Speed: how deals move through the stages and how long they take."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.charts import label
from pipeline_analytics.report.data import Row, fetch, table_columns, unavailable_reason
from pipeline_analytics.report.formatting import is_missing
from pipeline_analytics.report.measurability import (
    Measure,
    cycle_time_note,
    lost_stage_unknown_note,
    measure,
    not_measurable,
    open_without_amount_note,
    read_measures,
    stage_conversion_note,
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
from pipeline_analytics.report.sections.leads import lead_funnel_blocks

# --- 4. Funnel ------------------------------------------------------------------------------------

FUNNEL_COLUMNS = (
    "pipeline",
    "stage",
    "stage_order",
    "reached",
    "advanced",
    "lost_here",
    "open_here",
    "won_deals",
    "conversion_rate",
    "win_rate_from_stage",
)
# Also read when the mart has them (a warehouse built by an older version may not): lost_deals,
# lost_stage_unknown and conversion_measured, whether the data measures the pipeline's conversion
# and how many lost deals are of unknown stage. Rows are read with `select *` for that.


def conversion_measured(stage: Row) -> bool:
    """False when no lost deal of the pipeline has a known stage (every step would read 100%)."""
    return stage.get("conversion_measured") is not False


def pipeline_conversion(stages: list[Row]) -> Measure:
    """The pipeline's stage conversion measurability, from its first stage's counts."""
    first = stages[0]
    lost, unknown = first.get("lost_deals") or 0, first.get("lost_stage_unknown") or 0
    return Measure(
        "stage_conversion",
        measurable=conversion_measured(first),
        reason="no_lost_deals" if not lost else "lost_stage_unknown" if unknown else None,
        deals_affected=unknown,
        deals_considered=lost,
    )


def funnel_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "funnel", t("Funnel")
    reason = unavailable_reason(con, t, "mart_stage_conversion", FUNNEL_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    rows = fetch(con, "select * from mart_stage_conversion order by pipeline, stage_order")
    pipelines = [(name, list(stages)) for name, stages in groupby(rows, lambda r: r["pipeline"])]
    blocks: list[Block] = lead_funnel_blocks(con, ctx)  # the funnel starts at leads, if any
    for number, (pipeline, stages) in enumerate(pipelines, start=1):
        if len(pipelines) > 1:
            blocks.append(Heading(t("Pipeline: {pipeline}", pipeline=pipeline)))
        conversion = pipeline_conversion(stages)
        if not conversion.measurable:
            blocks.append(Note(stage_conversion_note(conversion, ctx), "unavailable"))
        blocks.append(
            charts.chart(
                funnel_figure(stages, ctx), f"chart-funnel-{number}", 90 + 46 * len(stages), ctx
            )
        )
        blocks.append(charts.chart(sankey_figure(stages, ctx), f"chart-flows-{number}", 420, ctx))
        blocks.append(funnel_table(stages, ctx))
        unknown = lost_stage_unknown_note(conversion, ctx)
        if unknown:
            blocks.append(Note(unknown))
    intro = t(
        "Deals that reached each open stage (skipped stages count as passed). Conversion is the "
        "share of deals that left the stage by advancing rather than being lost; open deals are "
        "not counted as losses. Win rate from stage = won ÷ (won + lost) among the deals that "
        "reached it. The flow chart below follows every deal from stage to stage, to won, lost "
        "at a stage, or still open."
    )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def funnel_figure(stages: list[Row], ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    figure = charts.funnel_figure_base(ctx)
    figure.add_funnel(
        y=[label(s["stage"]) for s in stages],
        x=[s["reached"] for s in stages],
        text=[funnel_bar_text(s, ctx) for s in stages],
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
                conversion_text(s, ctx),
                win_rate_from_stage_text(s, i == 0, ctx),
            ]
            for i, s in enumerate(stages)
        ],
        hovertemplate="<b>%{y}</b><br>"
        + t(
            "Reached {reached}<br>Advanced {advanced}, lost here {lost}, open here {open}"
            "<br>Conversion {conversion}<br>Win rate from stage {win_rate}",
            reached="%{customdata[0]}",
            advanced="%{customdata[1]}",
            lost="%{customdata[2]}",
            open="%{customdata[3]}",
            conversion="%{customdata[4]}",
            win_rate="%{customdata[5]}",
        )
        + "<extra></extra>",
    )
    return figure


def conversion_text(stage: Row, ctx: ReportContext) -> str:
    if not conversion_measured(stage):
        return not_measurable(ctx)
    return ctx.fmt.percent(stage["conversion_rate"])


def win_rate_from_stage_text(stage: Row, first: bool, ctx: ReportContext) -> str:
    """The first stage's is the all-time win rate, measured whatever the history (unless no deal
    was ever lost); after it, lost deals of unknown stage are missing from the denominator, so
    without a measured conversion the later stages' rates would read 100%."""
    never_lost = first and stage.get("lost_deals") == 0
    if not conversion_measured(stage) and (not first or never_lost):
        return not_measurable(ctx)
    return ctx.fmt.percent(stage["win_rate_from_stage"])


def funnel_bar_text(stage: Row, ctx: ReportContext) -> str:
    reached = ctx.fmt.count(stage["reached"])
    if is_missing(stage["conversion_rate"]) or not conversion_measured(stage):
        return reached  # no deal has left this stage yet, or the data cannot say
    return ctx.t(
        "{reached} · {conversion} advance",
        reached=reached,
        conversion=ctx.fmt.percent(stage["conversion_rate"]),
    )


@dataclass(frozen=True)
class Flow:
    source: int
    target: int
    deals: int
    colour: str


def sankey_flows(stages: list[Row]) -> tuple[list[str], list[Flow]]:
    """Nodes (stage keys, then won, lost, open, unknown) and the deals flowing between them.

    From stage i: `advanced` go on to stage i+1 (skipped stages count as passed, so they equal
    the next stage's `reached`), the last stage's go to won; `lost_here` to lost; `open_here` stay
    open. The first stage's remainder (reached minus those three) are deals whose last open stage
    is unknown, e.g. exported only as closed lost."""
    won, lost, still_open, unknown = (len(stages) + i for i in range(4))
    flows: list[Flow] = []
    for i, stage in enumerate(stages):
        onward = i + 1 if i + 1 < len(stages) else won
        flows.append(Flow(i, onward, stage["advanced"], "rgba(74, 111, 156, 0.35)"))
        flows.append(Flow(i, lost, stage["lost_here"], "rgba(192, 106, 79, 0.35)"))
        flows.append(Flow(i, still_open, stage["open_here"], "rgba(150, 158, 168, 0.35)"))
    first = stages[0]
    remainder = first["reached"] - first["advanced"] - first["lost_here"] - first["open_here"]
    flows.append(Flow(0, unknown, remainder, "rgba(150, 158, 168, 0.25)"))
    nodes = ["stage"] * len(stages) + ["won", "lost", "open", "unknown"]
    return nodes, [f for f in flows if f.deals > 0]


def sankey_figure(stages: list[Row], ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    _, flows = sankey_flows(stages)
    names = [label(s["stage"]) for s in stages] + [
        t("Won"),
        t("Lost"),
        t("Still open"),
        t("Last stage unknown"),
    ]
    colours = [charts.FUNNEL] * len(stages) + [charts.WON, charts.LOST, charts.OPEN, charts.OPEN]
    figure = go.Figure(layout=charts.base_layout(ctx, margin={"l": 8, "r": 8, "t": 8, "b": 8}))
    figure.add_sankey(
        arrangement="snap",
        valueformat=",d",
        node={
            "label": names,
            "color": colours,
            "pad": 18,
            "thickness": 16,
            "line": {"width": 0},
            "hovertemplate": "%{label}<br>"
            + t("{deals} deals", deals="%{value:,d}")
            + "<extra></extra>",
        },
        link={
            "source": [f.source for f in flows],
            "target": [f.target for f in flows],
            "value": [f.deals for f in flows],
            "color": [f.colour for f in flows],
            "customdata": [fmt.count(f.deals) for f in flows],
            "hovertemplate": "%{source.label} → %{target.label}<br>"
            + t("{deals} deals", deals="%{customdata}")
            + "<extra></extra>",
        },
    )
    return figure


def funnel_table(stages: list[Row], ctx: ReportContext) -> Table:
    t, fmt = ctx.t, ctx.fmt
    columns = (
        Column(t("Stage"), numeric=False),
        Column(t("Reached")),
        Column(t("Advanced")),
        Column(t("Lost here")),
        Column(t("Open here")),
        Column(t("Conversion")),
        Column(t("Win rate from stage")),
    )
    rows = tuple(
        (
            Cell(s["stage"]),
            Cell(fmt.count(s["reached"])),
            Cell(fmt.count(s["advanced"])),
            Cell(fmt.count(s["lost_here"])),
            Cell(fmt.count(s["open_here"])),
            Cell(conversion_text(s, ctx)),
            Cell(win_rate_from_stage_text(s, i == 0, ctx)),
        )
        for i, s in enumerate(stages)
    )
    return Table(columns, rows)


# --- 5. Speed -------------------------------------------------------------------------------------

# Time in stage of the open stages, with the extra quantiles a box plot needs.
STAGE_DAYS_SQL = (
    "select * from mart_stage_duration where stage_order is not null order by pipeline, stage_order"
)


def speed_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t, fmt = ctx.t, ctx.fmt
    key, title = "speed", t("Speed")
    measures = read_measures(con)
    blocks: list[Block] = [Heading(t("Time in stage"))]
    reason = unavailable_reason(con, t, "mart_stage_duration", ("p10_days", "p25_days"))
    stage_days = [] if reason else fetch(con, STAGE_DAYS_SQL)
    time_in_stage = measure(measures, "time_in_stage")
    if not stage_days and not time_in_stage.measurable:
        missing = stage_history_note("time_in_stage", time_in_stage, ctx)
        blocks.append(Note(missing, "unavailable"))
    elif reason or not stage_days:
        blocks.append(Note(reason or t("No completed stage stints yet."), "unavailable"))
    else:
        blocks.append(
            Note(
                t(
                    "Days spent in each open stage by deals that left it, a deal's returns to a "
                    "stage added up. Box: middle half of deals (P25–P75) with the median; "
                    "whiskers: P10–P90."
                )
            )
        )
        blocks.append(charts.chart(stage_box_figure(stage_days, ctx), "chart-stage-days", 360, ctx))
    history = measure(measures, "stage_history")
    if history.measurable:
        blocks += throughput_blocks(con, ctx)
    else:
        # Without history every stint is a current stage that never ends: entries without exits
        # would read as deals piling up in every stage.
        blocks.append(Note(stage_history_note("throughput", history, ctx), "unavailable"))
    blocks.append(Heading(t("Time to close")))
    cycle_note = cycle_time_note(con, measures, ctx)
    if cycle_note is not None and cycle_note.tone == "unavailable":
        blocks.append(cycle_note)
    else:
        blocks += [*cycle_blocks(con, ctx), *([cycle_note] if cycle_note else [])]
    blocks.append(Heading(t("Sales velocity trend")))
    reason = unavailable_reason(con, t, "mart_kpis_monthly", ("sales_velocity_per_day",))
    if reason:
        blocks.append(Note(reason, "unavailable"))
    else:
        months = fetch(
            con, "select month, sales_velocity_per_day from mart_kpis_monthly order by month"
        )
        velocity = t(
            "Expected bookings per day from the open pipeline at each month's end: open "
            "deals × win rate × average won deal ÷ mean cycle days, over the {days} days "
            "before.",
            days=fmt.count(ctx.lookback_days),
        )
        amounts = open_without_amount_note(measure(measures, "open_pipeline_amount"), ctx)
        blocks.append(Note(f"{velocity} {amounts}" if amounts else velocity))
        blocks.append(charts.chart(velocity_figure(months, ctx), "chart-velocity", 300, ctx))
    return Section(key, title, blocks=tuple(blocks))


THROUGHPUT_COLUMNS = (
    "pipeline",
    "stage",
    "stage_order",
    "entries_per_week",
    "exits_per_week",
    "net_per_week",
    "median_days",
    "open_deals",
    "conversion_rate",
)


def throughput_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    reason = unavailable_reason(con, t, "mart_stage_velocity", THROUGHPUT_COLUMNS)
    if reason:
        return [Note(reason, "unavailable")]
    stages = fetch(con, "select * from mart_stage_velocity order by pipeline, stage_order")
    measured = measured_pipelines(con)
    multi = len({s["pipeline"] for s in stages}) > 1
    columns = (
        *((Column(t("Pipeline"), numeric=False),) if multi else ()),
        Column(t("Stage"), numeric=False),
        Column(t("In per week")),
        Column(t("Out per week")),
        Column(t("Net per week")),
        Column(t("Median days per stay")),
        Column(t("Open deals")),
        Column(t("Conversion")),
    )
    rows = tuple(
        (
            *((Cell(s["pipeline"]),) if multi else ()),
            Cell(s["stage"]),
            Cell(fmt.number(s["entries_per_week"], 1)),
            Cell(fmt.number(s["exits_per_week"], 1)),
            Cell(fmt.signed(s["net_per_week"], lambda v: fmt.number(v, 1))),
            Cell(fmt.day_count(s["median_days"])),
            Cell(fmt.count(s["open_deals"])),
            Cell(
                fmt.percent(s["conversion_rate"])
                if measured.get(s["pipeline"], True)
                else not_measurable(ctx)
            ),
        )
        for s in stages
    )
    caption = t(
        "Stage throughput over the trailing {days} days: a positive net means deals pile up.",
        days=fmt.count(ctx.lookback_days),
    )
    return [Table(columns, rows, caption=caption)]


def measured_pipelines(con: duckdb.DuckDBPyConnection) -> dict[str, bool]:
    """Pipeline -> whether the data measures its stage conversion (all, when the mart can't say)."""
    if "conversion_measured" not in table_columns(con, "mart_stage_conversion"):
        return {}
    # conversion_measured is the pipeline's, the same on each of its rows.
    rows = fetch(con, "select distinct pipeline, conversion_measured from mart_stage_conversion")
    return {row["pipeline"]: row["conversion_measured"] is not False for row in rows}


def stage_box_figure(stage_days: list[Row], ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    pipelines = {row["pipeline"] for row in stage_days}
    names = [
        label(row["stage"]) if len(pipelines) == 1 else label(f"{row['pipeline']} · {row['stage']}")
        for row in stage_days
    ]
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            showlegend=False,
            xaxis={"type": "category"},
            yaxis={"title": {"text": t("days")}, "rangemode": "tozero"},
        )
    )
    figure.add_box(
        x=names,
        q1=[r["p25_days"] for r in stage_days],
        median=[r["median_days"] for r in stage_days],
        q3=[r["p75_days"] for r in stage_days],
        lowerfence=[r["p10_days"] for r in stage_days],
        upperfence=[r["p90_days"] for r in stage_days],
        mean=[r["mean_days"] for r in stage_days],
        marker_color=charts.FUNNEL,
        hoverinfo="skip",
    )
    # The box's own hover lists raw numbers; one invisible point per stage says it in words.
    figure.add_scatter(
        x=names,
        y=[r["median_days"] for r in stage_days],
        mode="markers",
        marker={"opacity": 0, "size": 14},
        customdata=[
            [
                fmt.count(r["deals"]),
                fmt.days(r["median_days"]),
                fmt.days(r["p25_days"]),
                fmt.days(r["p75_days"]),
                fmt.days(r["p90_days"]),
            ]
            for r in stage_days
        ],
        hovertemplate="<b>%{x}</b><br>"
        + t(
            "Median {median} over {deals} deals<br>Middle half {p25} – {p75}<br>P90 {p90}",
            deals="%{customdata[0]}",
            median="%{customdata[1]}",
            p25="%{customdata[2]}",
            p75="%{customdata[3]}",
            p90="%{customdata[4]}",
        )
        + "<extra></extra>",
    )
    return figure


def velocity_figure(months: list[Row], ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            showlegend=False,
            xaxis=charts.month_axis(len(months)),
            yaxis={
                "title": {"text": t("{currency} per day", currency=ctx.currency)},
                "tickformat": "~s",
                "rangemode": "tozero",
            },
        )
    )
    figure.add_scatter(
        x=[m["month"] for m in months],
        y=[m["sales_velocity_per_day"] for m in months],
        mode="lines+markers",
        line={"color": charts.FORECAST, "width": 2},
        customdata=[
            [fmt.month(m["month"]), fmt.money(m["sales_velocity_per_day"])] for m in months
        ],
        hovertemplate=t(
            "{month}<br>{amount} per day", month="%{customdata[0]}", amount="%{customdata[1]}"
        )
        + "<extra></extra>",
    )
    return figure


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


def cycle_histogram(con: duckdb.DuckDBPyConnection) -> CycleHistogram | None:
    """The trailing window's time to close, binned by mart_time_to_close(_bins); None when no
    deal closed in the window has a cycle."""
    summary = fetch(con, "select * from mart_time_to_close")[0]
    if summary["binned_deals"] == 0:
        return None
    counts = fetch(con, "select status, bin, deals from mart_time_to_close_bins")
    by_bin = {(row["status"], row["bin"]): row["deals"] for row in counts}
    width, bins = summary["bin_width_days"], range(summary["bins"])
    return CycleHistogram(
        bin_width=width,
        bin_starts=tuple(b * width for b in bins),
        open_ended_last_bin=summary["open_ended_last_bin"],
        won=tuple(by_bin.get(("won", b), 0) for b in bins),
        lost=tuple(by_bin.get(("lost", b), 0) for b in bins),
        won_median_days=summary["won_median_days"],
        lost_median_days=summary["lost_median_days"],
        excluded_deals=summary["excluded_deals"],
    )


TIME_TO_CLOSE_COLUMNS = (
    "binned_deals",
    "excluded_deals",
    "won_median_days",
    "lost_median_days",
    "bin_width_days",
    "bins",
    "open_ended_last_bin",
)


def cycle_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    reason = unavailable_reason(con, t, "mart_time_to_close", TIME_TO_CLOSE_COLUMNS)
    if reason:
        return [Note(reason, "unavailable")]
    histogram = cycle_histogram(con)
    if histogram is None:
        return [
            Note(t("Not available yet: no deals closed in the trailing window."), "unavailable")
        ]
    blocks: list[Block] = [
        Note(cycle_note(histogram, ctx)),
        charts.chart(cycle_figure(histogram, ctx), "chart-cycle", 340, ctx),
    ]
    if histogram.excluded_deals:
        blocks.append(
            Note(
                t(
                    "{deals} closed deals have a close date before their creation date and are "
                    "left out (see the data quality checks).",
                    deals=fmt.count(histogram.excluded_deals),
                )
            )
        )
    return blocks


def cycle_note(histogram: CycleHistogram, ctx: ReportContext) -> str:
    """The medians in words; a status without deals is said to have none (no dash for it)."""
    t, fmt = ctx.t, ctx.fmt
    values = {
        "days": fmt.count(ctx.lookback_days),
        "date": fmt.date(ctx.as_of),
        "won_median": fmt.days(histogram.won_median_days),
        "won": fmt.count(sum(histogram.won)),
        "lost_median": fmt.days(histogram.lost_median_days),
        "lost": fmt.count(sum(histogram.lost)),
    }
    if is_missing(histogram.lost_median_days):
        return t(
            "Days from creation to close of the deals closed in the {days} days to {date}. "
            "Median of the {won} won deals: {won_median}; no deal was lost.",
            **values,
        )
    if is_missing(histogram.won_median_days):
        return t(
            "Days from creation to close of the deals closed in the {days} days to {date}. "
            "Median of the {lost} lost deals: {lost_median}; no deal was won.",
            **values,
        )
    return t(
        "Days from creation to close of the deals closed in the {days} days to {date}. "
        "Median: won {won_median} ({won} deals), lost {lost_median} ({lost} deals).",
        **values,
    )


def cycle_figure(histogram: CycleHistogram, ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    labels = [histogram.bin_label(i) for i in range(len(histogram.bin_starts))]
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            barmode="group",
            bargap=0.15,
            bargroupgap=0.05,
            xaxis={
                "title": {"text": t("days from creation to close"), "standoff": 12},
                "type": "category",
                "automargin": True,
            },
            yaxis={"title": {"text": t("deals")}, "rangemode": "tozero"},
        )
    )
    for name, counts, colour in (
        (t("Won"), histogram.won, charts.WON),
        (t("Lost"), histogram.lost, charts.LOST),
    ):
        figure.add_bar(
            name=name,
            x=labels,
            y=list(counts),
            marker_color=colour,
            customdata=[[fmt.count(c)] for c in counts],
            hovertemplate=t(
                "{bin} days<br>{status} {deals} deals",
                bin="%{x}",
                status=name,
                deals="%{customdata[0]}",
            )
            + "<extra></extra>",
        )
    return figure
