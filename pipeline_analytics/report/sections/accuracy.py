"""8. Forecast accuracy: the rolling-origin backtest, the engine against the baselines.

The scores per method and horizon come from the warehouse's forecast_accuracy view over
forecast_backtest (forecasting.md): WAPE = Σ|actual − P50| / Σ actual; bias = Σ(P50 − actual) /
Σ actual; pinball loss at P10, P50 and P90 (the report shows their mean); and the share of actuals
inside P10–P90. A baseline that gives one number has it as its P50 and no band; `combination` is
the median of the engine and the two best baselines.

The method the latest forecast run chose as its headline is marked, with the reason; when that run
recalibrated its band, the band's backtest coverage after recalibration is shown beside the raw
one. A backtest step skipped or failed after the stored backtest shows its message instead.
"""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.data import Row, fetch, first_unavailable
from pipeline_analytics.report.forecast_data import (
    ForecastRun,
    forecast_problem,
    headline_reason,
    latest_backtest_at,
    latest_run,
    method_name,
    step_problem,
    step_problem_text,
)
from pipeline_analytics.report.model import (
    Block,
    Cell,
    Column,
    Note,
    ReportContext,
    Section,
    Table,
)
from pipeline_analytics.sql_files import sql_statement

BACKTEST_COLUMNS = (
    "origin",
    "horizon_months",
    "method",
    "actual",
    "forecast_mean",
    "p10",
    "p50",
    "p90",
)
ACCURACY_COLUMNS = (
    "method",
    "horizon_months",
    "origins",
    "wape",
    "bias",
    "pinball_p10",
    "pinball_p50",
    "pinball_p90",
    "coverage_p10_p90",
)
ENGINE = "engine"

SCORES_SQL = sql_statement("forecast/accuracy_scores")


def accuracy_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "accuracy", t("Forecast accuracy")
    backtest_at = latest_backtest_at(con)
    problem = step_problem(con, "backtest", backtest_at)
    if problem is not None:
        text = step_problem_text(problem, t)
        if backtest_at is not None:
            text += " " + t("The stored backtest predates it and is not shown.")
        return Section(key, title, unavailable=text)
    reason = first_unavailable(
        con, t, {"forecast_backtest": BACKTEST_COLUMNS, "forecast_accuracy": ACCURACY_COLUMNS}
    )
    if reason:
        return Section(key, title, unavailable=reason)
    scores = fetch(con, SCORES_SQL)
    run = latest_run(con)
    if forecast_problem(con, run) is not None:
        run = None  # its choice is stale: a newer forecast step gave up
    leader = run.method if run is not None and run.headline is not None else None
    # The path drawn is the headline method's, when the backtest scored it; else the engine's.
    shown = leader if leader and any(s["method"] == leader for s in scores) else ENGINE
    path = fetch(con, sql_statement("forecast/backtest_path"), {"method": shown})
    intro = t(
        "Each month-end in the history was used as a starting point: the pipeline was rebuilt as "
        "it stood then, forecast, and compared with what was actually booked 1, 2 and 3 months "
        "later. WAPE is the typical error as a share of bookings (lower is better); bias shows "
        "whether a method over- (+) or under-forecasts (−); P10–P90 coverage should be near 80%."
    )
    blocks = [charts.chart(wape_figure(scores, ctx), "chart-accuracy-wape", 320, ctx)]
    if path:
        blocks.append(
            charts.chart(backtest_figure(path, shown, ctx), "chart-accuracy-engine", 340, ctx)
        )
    blocks.append(scores_table(scores, ctx, leader))
    blocks += p_hit_blocks(con, ctx, run, shown)
    notes = [engine_verdict(scores, ctx), *leader_notes(run, ctx)]
    for note in reversed([n for n in notes if n]):
        blocks.insert(0, Note(note))
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def p_hit_blocks(
    con: duckdb.DuckDBPyConnection, ctx: ReportContext, run: ForecastRun | None, method: str
) -> list[Block]:
    """How P(hit) would have scored: targets at each backtest forecast's P10, P50 and P90 (the
    band scaled as the headline's is), which P(hit) puts at 0.9, 0.5 and 0.1."""
    t, fmt = ctx.t, ctx.fmt
    headline = run.headline if run is not None else None
    scale = headline.band_scale if headline and headline.method == method else None
    levels = fetch(
        con, sql_statement("forecast/target_brier"), {"method": method, "scale": scale or 1.0}
    )
    if not levels:
        return []
    names = {"p10": t("Target at P10"), "p50": t("Target at P50"), "p90": t("Target at P90")}
    columns = (
        Column(t("Target"), numeric=False),
        Column(t("Predicted P(hit)")),
        Column(t("Forecasts")),
        Column(t("Share hit")),
        Column(t("Brier score")),
    )
    rows = tuple(
        (
            Cell(names[r["band_level"]]),
            Cell(fmt.percent(r["predicted"], 0), r["predicted"]),
            Cell(fmt.count(r["forecasts"]), r["forecasts"]),
            Cell(fmt.percent(r["hit_rate"], 0), r["hit_rate"]),
            Cell(fmt.number(r["brier"], 3), r["brier"]),
        )
        for r in levels
    )
    note = t(
        "P(hit), the chance of reaching a target, is only as good as the band. At every backtest "
        "forecast of {method}, targets set at its P10, P50 and P90 would have been given a 90%, "
        "50% and 10% chance: the share of them actually hit should be close to that. The Brier "
        "score is the mean of (chance − outcome)², the outcome 1 if hit, else 0: lower is better; "
        "a chance that is right on average scores 0.09 at P10 and P90 and 0.25 at P50.",
        method=method_name(method, t),
    )
    if scale is not None and scale != 1.0:
        note += " " + t(
            "The band is scaled ×{scale} as the headline's is, a scale fitted on this same "
            "backtest.",
            scale=fmt.number(scale, 2),
        )
    return [
        Note(note),
        Table(columns, tuple(rows), caption=t("P(hit) scored on the backtest")),
    ]


def leader_notes(run: ForecastRun | None, ctx: ReportContext) -> list[str]:
    """Which method the latest forecast headlines and why, and its band's coverage before and
    after recalibration (runs that predate the choice have neither)."""
    t, fmt = ctx.t, ctx.fmt
    if run is None or run.headline is None:
        return []
    headline = run.headline
    notes = [headline_reason(run, t)]
    if (
        headline.band_scale is not None
        and headline.coverage_before is not None
        and headline.coverage_after is not None
    ):
        notes.append(
            t(
                "P10–P90 coverage of {method} in the backtest: {before} as simulated, {after} "
                "recalibrated (band scaled ×{scale}).",
                method=method_name(headline.method, t),
                before=fmt.percent(headline.coverage_before, 0),
                after=fmt.percent(headline.coverage_after, 0),
                scale=fmt.number(headline.band_scale, 2),
            )
        )
    return notes


def engine_verdict(scores: list[Row], ctx: ReportContext) -> str:
    """One line: does the engine beat every baseline on WAPE at every horizon?"""
    t, fmt = ctx.t, ctx.fmt
    horizons = sorted({s["horizon_months"] for s in scores})
    beaten = 0
    for horizon in horizons:
        rows = [s for s in scores if s["horizon_months"] == horizon and s["wape"] is not None]
        engine = [s for s in rows if s["method"] == ENGINE]
        others = [s for s in rows if s["method"] != ENGINE]
        if engine and others and all(engine[0]["wape"] < o["wape"] for o in others):
            beaten += 1
    engine_rows = [s for s in scores if s["method"] == ENGINE]
    if not engine_rows:
        return ""
    coverage = [s["coverage"] for s in engine_rows if s["coverage"] is not None]
    text = t(
        "The engine has the lowest WAPE at {beaten} of {horizons} horizons.",
        beaten=fmt.count(beaten),
        horizons=fmt.count(len(horizons)),
    )
    if coverage:
        text += " " + t(
            "Its P10–P90 band held the actual bookings {coverage} of the time.",
            coverage=fmt.percent(sum(coverage) / len(coverage), 0),
        )
    return text


def wape_figure(scores: list[Row], ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    methods = list(dict.fromkeys(s["method"] for s in scores))
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            barmode="group",
            xaxis={"type": "category", "title": {"text": t("months ahead")}},
            yaxis={"title": {"text": "WAPE"}, "tickformat": ".0%", "rangemode": "tozero"},
        )
    )
    for i, method in enumerate(methods):
        rows = [s for s in scores if s["method"] == method]
        colour = (
            charts.FORECAST
            if method == ENGINE
            else charts.BASELINE_COLOURS[i % len(charts.BASELINE_COLOURS)]
        )
        name = charts.label(method_name(method, ctx.t))
        figure.add_bar(
            name=name,
            x=[str(r["horizon_months"]) for r in rows],
            y=[r["wape"] for r in rows],
            marker_color=colour,
            customdata=[[fmt.percent(r["wape"]), fmt.count(r["origins"])] for r in rows],
            hovertemplate=t(
                "{method}, {months} months ahead<br>WAPE {wape} over {origins} origins",
                method=name,
                months="%{x}",
                wape="%{customdata[0]}",
                origins="%{customdata[1]}",
            )
            + "<extra></extra>",
        )
    return figure


def backtest_figure(path: list[Row], method: str, ctx: ReportContext) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            xaxis=charts.month_axis(len(path)),
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s", "rangemode": "tozero"},
        )
    )
    x = [p["origin"] for p in path]
    if all(p["p10"] is not None and p["p90"] is not None for p in path):
        charts.add_band(
            figure, x, [p["p10"] for p in path], [p["p90"] for p in path], name="P10–P90"
        )
    figure.add_scatter(
        name=t("Engine P50")
        if method == ENGINE
        else t("{method} P50", method=charts.label(method_name(method, t))),
        x=x,
        y=[p["p50"] if p["p50"] is not None else p["forecast_mean"] for p in path],
        mode="lines+markers",
        line={"color": charts.FORECAST, "width": 2, "dash": "dot"},
        customdata=[[fmt.date(p["origin"]), fmt.money(p["p50"])] for p in path],
        hovertemplate=t(
            "From {origin}: forecast {amount}", origin="%{customdata[0]}", amount="%{customdata[1]}"
        )
        + "<extra></extra>",
    )
    figure.add_scatter(
        name=t("Actual"),
        x=x,
        y=[p["actual"] for p in path],
        mode="lines+markers",
        line={"color": charts.TEXT, "width": 2},
        customdata=[[fmt.date(p["origin"]), fmt.money(p["actual"])] for p in path],
        hovertemplate=t(
            "From {origin}: booked {amount}", origin="%{customdata[0]}", amount="%{customdata[1]}"
        )
        + "<extra></extra>",
    )
    return figure


def scores_table(scores: list[Row], ctx: ReportContext, leader: str | None = None) -> Table:
    t, fmt = ctx.t, ctx.fmt
    columns = (
        Column(t("Months ahead")),
        Column(t("Method"), numeric=False),
        Column(t("Origins")),
        Column("WAPE"),
        Column(t("Bias")),
        Column(t("P10–P90 coverage")),
        Column(t("Pinball loss ({currency})", currency=ctx.currency)),
    )
    rows = tuple(
        (
            Cell(fmt.count(s["horizon_months"]), s["horizon_months"]),
            Cell(
                method_name(s["method"], ctx.t),
                flag=t("headline") if s["method"] == leader else None,
                flag_tone="calm",
            ),
            Cell(fmt.count(s["origins"]), s["origins"]),
            Cell(fmt.percent(s["wape"]), s["wape"]),
            Cell(fmt.signed(s["bias"], fmt.percent), s["bias"]),
            Cell(fmt.percent(s["coverage"], 0), s["coverage"]),
            Cell(fmt.number(s["pinball_loss"]), s["pinball_loss"]),
        )
        for s in scores
    )
    return Table(columns, rows, caption=t("Backtest scores per method and horizon"), sortable=True)
