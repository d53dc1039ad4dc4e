"""2. Forecast: the latest stored forecast run, its sources, cross-checks and movers.

The line is the run's headline: the method the backtest chose (forecast_runs.method), whose
reason the section states; the engine's components stay below as the explanation of where
bookings come from, and the engine's own total is drawn beside a headline it did not earn. A
forecast step skipped or failed after the stored run replaces its numbers with its message.
"""

from __future__ import annotations

from datetime import date
from itertools import groupby

import duckdb
import plotly.graph_objects as go

from pipeline_analytics.report import charts
from pipeline_analytics.report.data import Row, fetch, table_columns, unavailable_reason
from pipeline_analytics.report.forecast_data import (
    COMPONENTS,
    ENGINE,
    ForecastRun,
    StepProblem,
    crosschecks,
    engine_outscored,
    forecast_problem,
    has_bands,
    headline_details,
    headline_reason,
    latest_run,
    method_name,
    monthly,
    open_deals_by_basis,
    step_problem_text,
    unbacked_engine_text,
)
from pipeline_analytics.report.i18n import Translator
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
from pipeline_analytics.report.sections.scenarios import scenario_blocks
from pipeline_analytics.sql_files import sql_statement

HISTORY_MONTHS = 24
BIGGEST_DEALS = 10
DEAL_DETAILS = "mart_deal_details"  # names the deals of forecast_deals and forecast_changes


def component_label(component: str, ctx: ReportContext) -> str:
    t = ctx.t
    return {
        "closed": t("Closed to date"),
        "open_pipeline": t("Open pipeline"),
        "new_pipeline": t("New pipeline"),
        "total": t("Total"),
    }[component]


def forecast_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "forecast", t("Forecast")
    reason = unavailable_reason(con, t, "mart_kpis_monthly", ("month", "won_amount_base"))
    if reason:
        return Section(key, title, unavailable=reason)
    history = fetch(
        con,
        "select * from mart_kpis_monthly order by month desc limit $months",
        {"months": HISTORY_MONTHS},
    )[::-1]
    run = latest_run(con)
    problem = forecast_problem(con, run)
    blocks: list[Block] = []
    if run is None or problem is not None:
        figure = fan_figure(history, None, [], [], ctx)
        blocks.append(charts.chart(figure, "chart-forecast", 400, ctx))
        blocks += missing_forecast_notes(run, problem, ctx)
        return Section(key, title, intro=history_intro(ctx), blocks=tuple(blocks))
    headline = monthly(con, run, run.headline_component)
    checks = beside_headline(con, run)
    figure = fan_figure(history, run, headline, checks, ctx)
    blocks.append(charts.chart(figure, "chart-forecast", 400, ctx))
    leads = " ".join([headline_reason(run, t), *headline_details(run, t, ctx.fmt)]).strip()
    if leads:
        blocks.append(Note(leads))
    outscored = engine_outscored(con, run)
    if outscored:
        blocks.append(Note(unbacked_engine_text(outscored, t), "unavailable"))
    if not has_bands(headline):
        blocks.append(
            Note(
                t(
                    "This run stores expected values only (method {method}); P10–P90 bands "
                    "appear with a simulated forecast.",
                    method=method_name(run.method, t),
                )
            )
        )
    if run.headline_component == "open_pipeline":
        blocks.append(
            Note(
                t(
                    "This run forecasts the open pipeline only: deals not yet created and bookings "
                    "already closed are not in the line."
                )
            )
        )
    component_rows = {c: monthly(con, run, c) for c in COMPONENTS if c in run.components}
    if len(component_rows) > 1:
        blocks.append(Heading(t("Where the forecast comes from")))
        if not run.engine_leads:
            blocks.append(
                Note(
                    t(
                        "These are the engine's components: they show where bookings would come "
                        "from, while the headline above is {method}'s forecast.",
                        method=method_name(run.method, t),
                    )
                )
            )
        blocks.append(
            charts.chart(
                components_figure(component_rows, ctx), "chart-forecast-components", 340, ctx
            )
        )
    blocks.append(forecast_table(headline, ctx))
    blocks += scenario_blocks(con, run, ctx)
    blocks += basis_notes(con, run, ctx)
    if checks:
        blocks.append(cross_check_table(headline, checks, run, ctx))
    blocks += biggest_deals_blocks(con, run, ctx)
    blocks += change_blocks(con, run, ctx)
    intro = (
        history_intro(ctx)
        + " "
        + t(
            "Forecast run {run} of {date}, method {method}.",
            run=str(run.run_id),
            date=ctx.fmt.date(run.as_of),
            method=method_name(run.method, t),
        )
    )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def missing_forecast_notes(
    run: ForecastRun | None, problem: StepProblem | None, ctx: ReportContext
) -> list[Block]:
    """Why there is no forecast line: the latest forecast step's own message when it gave up
    after the stored run (whose numbers are then stale), else that no run is stored."""
    t = ctx.t
    if problem is None:
        return [
            Note(t("Not available yet: no forecast run is stored in the warehouse."), "unavailable")
        ]
    notes: list[Block] = [Note(step_problem_text(problem, t), "unavailable")]
    if run is not None:
        notes.append(
            Note(
                t(
                    "The stored forecast, run {run} of {date}, predates it and is not shown.",
                    run=str(run.run_id),
                    date=ctx.fmt.date(run.as_of),
                )
            )
        )
    return notes


def beside_headline(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> list[Row]:
    """The lines drawn beside the headline: the engine's own total when another method leads,
    then the baselines stored with the run, except the one the headline already is."""
    engine: list[Row] = []
    if not run.engine_leads and "total" in run.components:
        engine = [
            {"method": ENGINE, "month": r["month"], "mean": r["mean"], "p50": r["p50"]}
            for r in monthly(con, run, "total")
        ]
    return engine + [r for r in crosschecks(con, run) if r["method"] != run.method]


def history_intro(ctx: ReportContext) -> str:
    return ctx.t(
        "Won amount per month; the current month, shown lighter, runs to {date}.",
        date=ctx.fmt.date(ctx.as_of),
    )


def fan_figure(
    history: list[Row],
    run: ForecastRun | None,
    headline: list[Row],
    checks: list[Row],
    ctx: ReportContext,
) -> go.Figure:
    t, fmt = ctx.t, ctx.fmt
    current_month = date(ctx.as_of.year, ctx.as_of.month, 1)
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            barmode="overlay",
            legend={"traceorder": "normal"},
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s", "rangemode": "tozero"},
            xaxis=charts.month_axis(len(history) + len(headline)),
        )
    )
    figure.add_bar(
        name=t("Won"),
        x=[row["month"] for row in history],
        y=[row["won_amount_base"] for row in history],
        marker_color=[
            charts.WON_LIGHT if row["month"] == current_month else charts.WON for row in history
        ],
        customdata=[
            [
                fmt.month(row["month"]),
                fmt.money(row["won_amount_base"]),
                fmt.count(row["won_deals"]),
                t("to date") if row["month"] == current_month else "",
            ]
            for row in history
        ],
        hovertemplate=t(
            "{month} {to_date}<br>Won {amount} in {deals} deals",
            month="%{customdata[0]}",
            to_date="%{customdata[3]}",
            amount="%{customdata[1]}",
            deals="%{customdata[2]}",
        )
        + "<extra></extra>",
    )
    if run is not None and headline:
        add_fan(figure, headline, ctx)
    for i, (method, rows) in enumerate(groupby(checks, lambda r: r["method"])):
        add_cross_check(figure, method, list(rows), i, ctx)
    return figure


def add_cross_check(
    figure: go.Figure, method: str, rows: list[Row], index: int, ctx: ReportContext
) -> None:
    """A naive method's monthly bookings (its P50, else its mean), thin, beside the engine."""
    name = charts.label(method_name(method, ctx.t))
    centre = ["p50" if r["p50"] is not None else "mean" for r in rows]
    figure.add_scatter(
        name=name,
        x=[r["month"] for r in rows],
        y=[r[c] for r, c in zip(rows, centre, strict=True)],
        mode="lines",
        line={
            "color": charts.BASELINE_COLOURS[index % len(charts.BASELINE_COLOURS)],
            "width": 1.5,
            "dash": "dash",
        },
        visible="legendonly" if index else True,
        customdata=[
            [ctx.fmt.month(r["month"]), ctx.fmt.money(r[c])]
            for r, c in zip(rows, centre, strict=True)
        ],
        hovertemplate=f"{name}<br>%{{customdata[0]}}: %{{customdata[1]}}<extra></extra>",
    )


def add_fan(figure: go.Figure, months: list[Row], ctx: ReportContext) -> None:
    t, fmt = ctx.t, ctx.fmt
    x = [m["month"] for m in months]
    banded = has_bands(months)
    if banded:
        charts.add_band(
            figure, x, [m["p10"] for m in months], [m["p90"] for m in months], name="P10–P90"
        )
    centre = "p50" if banded else "mean"
    figure.add_scatter(
        name=t("Forecast P50") if banded else t("Forecast (expected)"),
        x=x,
        y=[m[centre] for m in months],
        mode="lines+markers",
        line={"color": charts.FORECAST, "width": 2, "dash": "dot"},
        marker={"size": 6},
        customdata=[
            [
                fmt.month(m["month"]),
                fmt.money(m[centre]),
                t("P10–P90 {low} – {high}", low=fmt.money(m["p10"]), high=fmt.money(m["p90"]))
                if banded
                else t("expected value"),
            ]
            for m in months
        ],
        hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>%{customdata[2]}<extra></extra>",
    )


def components_figure(component_rows: dict[str, list[Row]], ctx: ReportContext) -> go.Figure:
    fmt = ctx.fmt
    colours = {
        "closed": charts.WON,
        "open_pipeline": charts.FORECAST,
        "new_pipeline": charts.NEW_PIPELINE,
    }
    figure = go.Figure(
        layout=charts.base_layout(
            ctx,
            barmode="stack",
            yaxis={"title": {"text": ctx.currency}, "tickformat": "~s", "rangemode": "tozero"},
            xaxis=charts.month_axis(max(len(rows) for rows in component_rows.values())),
        )
    )
    for component, rows in component_rows.items():
        label = component_label(component, ctx)
        figure.add_bar(
            name=label,
            x=[r["month"] for r in rows],
            y=[r["mean"] for r in rows],
            marker_color=colours[component],
            customdata=[[fmt.month(r["month"]), fmt.money(r["mean"]), label] for r in rows],
            hovertemplate="%{customdata[0]}<br>%{customdata[2]}: %{customdata[1]}<extra></extra>",
        )
    return figure


def forecast_table(months: list[Row], ctx: ReportContext) -> Table:
    t, fmt = ctx.t, ctx.fmt
    banded = has_bands(months)
    columns = [Column(t("Month"), numeric=False), Column(t("Expected"))]
    if banded:
        columns += [Column("P10"), Column("P50"), Column("P90")]
    rows = []
    for m in months:
        cells = [Cell(fmt.month(m["month"])), Cell(fmt.money(m["mean"]))]
        if banded:
            cells += [Cell(fmt.money(m[p])) for p in ("p10", "p50", "p90")]
        rows.append(tuple(cells))
    return Table(tuple(columns), tuple(rows), caption=t("Forecast bookings by month"))


def basis_label(basis: str, ctx: ReportContext) -> str:
    t = ctx.t
    labels = {
        "stage": t("from their stage's history at their age"),
        "pooled": t("from all stages pooled, their stage having too little history"),
        "oldest_age": t("older than the history reaches, from its oldest ages"),
        "deal_age": t(
            "from what became of past deals of the same age (won, lost or still open), their "
            "stage having no history"
        ),
        "crm": t("from the CRM's or the configured probability, timed by the usual sales cycle"),
        "win_rate": t("from the overall historical win rate and sales cycle"),
        "none": t("left out: no deal has closed yet, so there is no win rate to learn from"),
    }
    return labels.get(basis, basis)


def config_count(run: ForecastRun, key: str) -> int:
    value = run.config.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def basis_notes(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, ctx: ReportContext
) -> list[Block]:
    """How many open deals each model of the engine forecast, how many amounts were imputed or
    are missing, and whether the open pipeline could be forecast at all (forecasting.md asks to
    say so)."""
    t, fmt = ctx.t, ctx.fmt
    notes: list[Block] = []
    unforecastable = run.config.get("open_pipeline_unforecastable")
    if unforecastable:
        notes.append(
            Note(
                t(
                    "The open pipeline cannot be forecast: {reason}",
                    reason=sentence(str(unforecastable)),
                ),
                "unavailable",
            )
        )
    caveat = run.config.get("open_pipeline_caveat")
    if caveat:
        notes.append(
            Note(
                t("The open pipeline may be overstated: {reason}", reason=sentence(str(caveat))),
                "unavailable",
            )
        )
    counts = open_deals_by_basis(con, run)
    if counts:
        parts = "; ".join(
            t("{deals} {how}", deals=fmt.count(n), how=basis_label(b, ctx))
            for b, n in counts.items()
        )
        notes.append(Note(t("How the open deals were forecast: {parts}.", parts=parts)))
    imputed = config_count(run, "open_deals_amount_imputed")
    if imputed:
        notes.append(
            Note(
                t(
                    "{deals} open deals had no amount and were given the median won amount of "
                    "similar deals (marked imputed among the biggest deals).",
                    deals=fmt.count(imputed),
                )
            )
        )
    without = config_count(run, "open_deals_without_amount")
    if without:
        notes.append(
            Note(
                t(
                    "{deals} open deals have no amount and add nothing to the forecast.",
                    deals=fmt.count(without),
                )
            )
        )
    return notes


def sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def cross_check_table(
    headline: list[Row], checks: list[Row], run: ForecastRun, ctx: ReportContext
) -> Table:
    """Each other method's expected bookings over the horizon against the headline's (means add
    up across months, so the sums compare)."""
    t, fmt = ctx.t, ctx.fmt
    expected = sum(m["mean"] or 0 for m in headline)
    totals: dict[str, float] = {}
    for row in checks:
        totals[row["method"]] = totals.get(row["method"], 0.0) + (row["mean"] or 0)
    columns = (
        Column(t("Method"), numeric=False),
        Column(t("Expected over {months} months", months=fmt.count(len(headline)))),
        Column(t("Against the engine") if run.engine_leads else t("Against the headline")),
    )
    body = [(Cell(method_name(run.method, t)), Cell(fmt.money(expected)), Cell("—"))]
    body += [
        (
            Cell(method_name(method, t)),
            Cell(fmt.money(total)),
            Cell(fmt.signed(total / expected - 1 if expected else None, fmt.percent)),
        )
        for method, total in totals.items()
    ]
    return Table(
        columns,
        tuple(body),
        caption=t("Cross-checks: simple methods beside the engine (dashed in the chart)")
        if run.engine_leads
        else t(
            "Cross-checks: the engine and simple methods beside the headline (dashed in the chart)"
        ),
    )


def names_unavailable(con: duckdb.DuckDBPyConnection, t: Translator) -> str | None:
    """Why deals cannot be named: a warehouse built before mart_deal_details existed (the next
    build adds it)."""
    if table_columns(con, DEAL_DETAILS):
        return None
    return t("Not available yet: the warehouse has no {table} table.", table=DEAL_DETAILS)


def biggest_deals_blocks(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, ctx: ReportContext
) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    needed = ("deal_id", "win_probability", "expected_close_month", "expected_value_base")
    reason = unavailable_reason(con, t, "forecast_deals", needed) or names_unavailable(con, t)
    if reason:
        return [Heading(t("The biggest deals behind it")), Note(reason, "unavailable")]
    deals = fetch(
        con,
        sql_statement("forecast/biggest_deals"),
        {"run": run.run_id, "deals": BIGGEST_DEALS},
    )
    columns = (
        Column(t("Deal"), numeric=False),
        Column(t("Account"), numeric=False),
        Column(t("Owner"), numeric=False),
        Column(t("Stage"), numeric=False),
        Column(t("Amount ({currency})", currency=ctx.currency)),
        Column(t("Win probability")),
        Column(t("Expected close"), numeric=False),
        Column(t("Expected value ({currency})", currency=ctx.currency)),
        Column(t("Share of the open deals' value")),
    )
    rows = tuple(
        (
            Cell(d["name"] or "—"),
            Cell(d["account"] or "—"),
            Cell(d["owner"] or "—"),
            Cell(d["stage"] or "—"),
            Cell(
                fmt.number(d["amount_base"]),
                d["amount_base"],
                flag=t("imputed") if d["amount_imputed"] else None,
                flag_tone="calm",
            ),
            Cell(fmt.percent(d["win_probability"], 0), d["win_probability"]),
            Cell(fmt.month(d["expected_close_month"]), str(d["expected_close_month"] or "")),
            Cell(fmt.number(d["expected_value_base"]), d["expected_value_base"]),
            Cell(fmt.percent(d["share"]), d["share"]),
        )
        for d in deals
    )
    return [
        Heading(t("The biggest deals behind it")),
        Table(
            columns, rows, caption=t("Open deals with the largest expected value"), sortable=True
        ),
    ]


# --- what changed since the previous run ----------------------------------------------------------

CHANGE_COLUMNS = (
    "run_id",
    "previous_run_id",
    "source",
    "deal_id",
    "change",
    "stage",
    "previous_stage",
    "expected_value_base",
    "previous_expected_value_base",
    "delta_base",
)
CHANGES_SHOWN = 10


def change_label(change: str, ctx: ReportContext) -> str:
    t = ctx.t
    labels = {
        "new": t("new open deal"),
        "pushed": t("close date pushed"),
        "pulled": t("close date pulled in"),
        "amount": t("amount changed"),
        "updated": t("changed"),
        "won": t("won since"),
        "lost": t("lost since"),
        "removed": t("no longer in the export"),
    }
    return labels.get(change, change)


def change_blocks(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, ctx: ReportContext
) -> list[Block]:
    """The open deals that moved the expected value since the previous engine run."""
    t, fmt = ctx.t, ctx.fmt
    if not set(CHANGE_COLUMNS) <= table_columns(con, "forecast_changes"):
        return []
    if names_unavailable(con, t):
        return []
    totals = fetch(con, sql_statement("forecast/change_totals"), {"run": run.run_id})
    if not totals:
        return []
    summary = "; ".join(
        t(
            "{change}: {deals} deals, {delta}",
            change=change_label(r["change"], ctx),
            deals=fmt.count(r["deals"]),
            delta=fmt.signed(r["delta"], fmt.money),
        )
        for r in totals
    )
    rows = fetch(
        con,
        sql_statement("forecast/biggest_changes"),
        {"run": run.run_id, "changes": CHANGES_SHOWN},
    )
    columns = (
        Column(t("Deal"), numeric=False),
        Column(t("Account"), numeric=False),
        Column(t("Change"), numeric=False),
        Column(t("Stage"), numeric=False),
        Column(t("Expected value before ({currency})", currency=ctx.currency)),
        Column(t("Expected value now ({currency})", currency=ctx.currency)),
        Column(t("Difference ({currency})", currency=ctx.currency)),
    )
    body = tuple(
        (
            Cell(r["name"] or "—"),
            Cell(r["account"] or "—"),
            Cell(change_label(r["change"], ctx)),
            Cell(stage_move(r["previous_stage"], r["stage"])),
            Cell(fmt.number(r["previous_expected_value_base"]), r["previous_expected_value_base"]),
            Cell(fmt.number(r["expected_value_base"]), r["expected_value_base"]),
            Cell(fmt.signed(r["delta_base"], fmt.number), r["delta_base"]),
        )
        for r in rows
    )
    return [
        Heading(t("What changed since run {run}", run=str(totals[0]["previous"]))),
        Note(t("Expected value of open deals, by kind of change: {summary}.", summary=summary)),
        Table(columns, body, caption=t("The biggest moves, largest first"), sortable=True),
    ]


def stage_move(before: str | None, now: str | None) -> str:
    if before == now or before is None or now is None:
        return now or before or "—"
    return f"{before} → {now}"
