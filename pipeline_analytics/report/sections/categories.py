"""Forecast categories: the reps' call per quarter beside the model's P50, and how past calls
turned out (share of Commit won in its quarter), for everyone and per rep with enough calls."""

from __future__ import annotations

from datetime import date

import duckdb

from pipeline_analytics.report.data import Row, fetch, unreadable_reason
from pipeline_analytics.report.forecast_data import ForecastRun, latest_run, quarter_totals
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
from pipeline_analytics.report.sections.summary import fiscal_start_month
from pipeline_analytics.report.sections.team import NONE_MARKER, number_cell

ROLLUP_COLUMNS = (
    "period_start",
    "fiscal_year",
    "fiscal_quarter",
    "closed_won_base",
    "commit_base",
    "best_case_base",
    "pipeline_base",
    "commit_deals",
    "best_case_deals",
    "pipeline_deals",
    "omitted_deals",
    "uncategorized_deals",
    "commit_forecast",
    "best_case_forecast",
    "pipeline_forecast",
    "overdue_deals",
    "overdue_base",
)
ACCURACY_COLUMNS = (
    "owner",
    "forecast_category",
    "calls",
    "calls_won",
    "value_called",
    "value_won",
    "min_calls",
    "enough_calls",
    "share_won",
)
# The open calls, most confident first (Closed and Omitted are not calls on open deals).
OPEN_CATEGORIES = ("Commit", "Best Case", "Pipeline")
ALL_OWNERS = "(all)"


def quarter_name(row: Row, fiscal_start: int, ctx: ReportContext) -> str:
    if fiscal_start == 1:
        return ctx.fmt.quarter(row["fiscal_year"], row["fiscal_quarter"])
    return ctx.fmt.fiscal_quarter(row["fiscal_year"], row["fiscal_quarter"])


def categories_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "categories", t("Forecast categories: the reps' call")
    reason = unreadable_reason(
        con, t, "mart_forecast_category_rollup", ROLLUP_COLUMNS
    ) or unreadable_reason(con, t, "mart_forecast_category_accuracy", ACCURACY_COLUMNS)
    if reason:
        return Section(key, title, unavailable=reason)
    quarters = fetch(con, "select * from mart_forecast_category_rollup order by period_start")
    calls = fetch(con, "select * from mart_forecast_category_accuracy order by owner")
    categorized = sum(
        (q[f"{c}_deals"] or 0) for q in quarters for c in ("commit", "best_case", "pipeline")
    )
    if not categorized and not calls:
        return Section(
            key,
            title,
            blocks=(
                Note(
                    t(
                        "The export has no forecast category on its open deals (Salesforce "
                        "ForecastCategoryName, HubSpot's Forecast category or a "
                        "forecast_category column), so the reps' call cannot be shown."
                    ),
                    "unavailable",
                ),
            ),
        )
    intro = t(
        "The reps' call on the open deals due in each quarter, rolled up as CRMs do: Commit "
        "forecast = won so far + Commit; Best case forecast = that + Best Case. Beside it, the "
        "model's P50 for the quarter. Then how past calls turned out: of the deals in each "
        "category when a quarter began and due in it, the share won inside that quarter."
    )
    blocks: list[Block] = [*rollup_blocks(con, quarters, ctx), *accuracy_blocks(calls, ctx)]
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def model_p50(
    con: duckdb.DuckDBPyConnection, run: ForecastRun | None, period_start: date
) -> float | None:
    """The forecast run's P50 for the quarter, when the run stored it."""
    totals = quarter_totals(con, run, period_start) if run else None
    return totals["p50"] if totals else None


def rollup_blocks(
    con: duckdb.DuckDBPyConnection, quarters: list[Row], ctx: ReportContext
) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    fiscal_start = fiscal_start_month(con)
    columns = (
        Column(t("Close quarter"), numeric=False),
        Column(t("Won so far ({currency})", currency=ctx.currency)),
        Column(t("Commit ({currency})", currency=ctx.currency)),
        Column(t("Best Case ({currency})", currency=ctx.currency)),
        Column(t("Pipeline ({currency})", currency=ctx.currency)),
        Column(t("Commit forecast ({currency})", currency=ctx.currency)),
        Column(t("Best case forecast ({currency})", currency=ctx.currency)),
        Column(t("Model P50 ({currency})", currency=ctx.currency)),
    )
    run = latest_run(con)
    rows = []
    for q in quarters:
        p50 = model_p50(con, run, q["period_start"])
        rows.append(
            (
                Cell(quarter_name(q, fiscal_start, ctx), str(q["period_start"])),
                number_cell(q["closed_won_base"], fmt.number),
                number_cell(q["commit_base"], fmt.number),
                number_cell(q["best_case_base"], fmt.number),
                number_cell(q["pipeline_base"], fmt.number),
                number_cell(q["commit_forecast"], fmt.number),
                number_cell(q["best_case_forecast"], fmt.number),
                number_cell(p50, fmt.number) if p50 is not None else Cell(t("no forecast"), None),
            )
        )
    blocks: list[Block] = [
        Table(columns, tuple(rows), caption=t("The reps' call per quarter"), sortable=False)
    ]
    current = quarters[0] if quarters else None
    if current and current["overdue_deals"]:
        blocks.append(
            Note(
                t(
                    "{deals} open deals ({value}) have an expected close date before this "
                    "quarter: they are in no quarter's call until their dates are updated.",
                    deals=fmt.count(current["overdue_deals"]),
                    value=fmt.money(current["overdue_base"]),
                )
            )
        )
    uncategorized = sum(q["uncategorized_deals"] or 0 for q in quarters)
    if uncategorized:
        blocks.append(
            Note(
                t(
                    "{deals} open deals due in these quarters have no forecast category (or "
                    "one not recognised) and are in no column.",
                    deals=fmt.count(uncategorized),
                )
            )
        )
    return blocks


def accuracy_blocks(calls: list[Row], ctx: ReportContext) -> list[Block]:
    t = ctx.t
    everyone = [c for c in calls if c["owner"] == ALL_OWNERS]
    heading = Heading(t("How the calls turned out"))
    if not everyone:
        return [
            heading,
            Note(
                t(
                    "Not measurable yet: it needs each deal's category as it stood when past "
                    "quarters began, from category history (Salesforce OpportunityHistory's "
                    "ForecastCategory) or from exports loaded over time; this warehouse has "
                    "neither for a complete quarter."
                ),
                "unavailable",
            ),
        ]
    minimum = everyone[0]["min_calls"]
    blocks: list[Block] = [heading, call_table(everyone, ctx, by_owner=False)]
    reps = [
        c
        for c in calls
        if c["owner"] != ALL_OWNERS and c["forecast_category"] == "Commit" and c["enough_calls"]
    ]
    blocks.append(Heading(t("Commit calls per rep")))
    if reps:
        blocks.append(call_table(reps, ctx, by_owner=True))
    blocks.append(
        Note(
            t(
                "A share is shown from {minimum} calls up; reps with fewer Commit calls are "
                "left out.",
                minimum=ctx.fmt.count(minimum),
            )
        )
    )
    return blocks


def call_table(calls: list[Row], ctx: ReportContext, *, by_owner: bool) -> Table:
    t, fmt = ctx.t, ctx.fmt
    order = {c: i for i, c in enumerate((*OPEN_CATEGORIES, "Closed", "Omitted"))}
    ordered = sorted(
        calls, key=lambda c: (c["owner"], order.get(c["forecast_category"], len(order)))
    )
    first = (
        Column(t("Owner"), numeric=False)
        if by_owner
        else Column(t("Forecast category"), numeric=False)
    )
    columns = (
        first,
        Column(t("Calls")),
        Column(t("Won in their quarter")),
        Column(t("Share won")),
        Column(t("Value called ({currency})", currency=ctx.currency)),
        Column(t("Value won ({currency})", currency=ctx.currency)),
    )
    rows = tuple(
        (
            Cell(c["owner"] if c["owner"] != NONE_MARKER else t("(no owner)"), c["owner"])
            if by_owner
            else Cell(c["forecast_category"], order.get(c["forecast_category"])),
            number_cell(c["calls"], fmt.count),
            number_cell(c["calls_won"], fmt.count),
            number_cell(c["share_won"], fmt.percent)
            if c["enough_calls"]
            else Cell(t("fewer than {minimum} calls", minimum=fmt.count(c["min_calls"])), None),
            number_cell(c["value_called"], fmt.number),
            number_cell(c["value_won"], fmt.number),
        )
        for c in ordered
    )
    caption = (
        t("Share of Commit calls won, per rep") if by_owner else t("Calls per category, every rep")
    )
    return Table(columns, rows, caption=caption, sortable=True)
