"""10. Method: the definitions behind the numbers and how the forecast works, in plain words."""

from __future__ import annotations

import duckdb

from pipeline_analytics.report.forecast_data import ForecastRun, latest_run, method_name
from pipeline_analytics.report.model import Paragraphs, ReportContext, Section


def method_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    parts = (
        (t("Definitions"), definitions(ctx)),
        (t("How the forecast works"), forecast_explained(latest_run(con), ctx)),
        (
            t("Where the numbers come from"),
            (
                t(
                    "Every number is computed in the warehouse (a DuckDB file) from the CRM "
                    "export by SQL models that analysts can query directly; this page only "
                    "formats them. Nothing is typed in by hand."
                ),
            ),
        ),
    )
    return Section("method", t("Method"), blocks=(Paragraphs(parts),))


def definitions(ctx: ReportContext) -> tuple[str, ...]:
    t, fmt = ctx.t, ctx.fmt
    return (
        t(
            "Periods: the executive summary compares the quarter to date with the whole quarter "
            "before it. The tables and the smaller figures cover the trailing window, the {days} "
            "days up to {date}: the deals closed in it, and the deals open at its end.",
            days=fmt.count(ctx.lookback_days),
            date=fmt.date(ctx.as_of),
        ),
        t(
            "Win rate: won ÷ (won + lost) among the deals closed in the window. Open deals are "
            "never counted as losses."
        ),
        t(
            "Stage conversion: of the deals that left a stage, the share that moved on rather than "
            "being lost there. A deal that skipped a stage counts as having passed it; a deal that "
            "went back to an earlier stage counts once."
        ),
        t(
            "Sales cycle: days from a deal's creation to its close. Deals whose close date is "
            "before their creation date are left out and listed under data quality."
        ),
        t(
            "Sales velocity: open deals × win rate × average won deal ÷ mean cycle days, the "
            "bookings per day the pipeline produces at its current pace."
        ),
        t(
            "P10, P50, P90: in the simulated futures, bookings fall below P10 one time in ten, "
            "below P50 half the time and below P90 nine times in ten; eight times in ten they "
            "land between P10 and P90."
        ),
    )


def forecast_explained(run: ForecastRun | None, ctx: ReportContext) -> tuple[str, ...]:
    t, fmt = ctx.t, ctx.fmt
    if run is None:
        return (t("No forecast has been run on this warehouse yet."),)
    if run.method == "stage_weighted":
        return (
            t(
                "This run uses the stage-weighted method: each open deal counts for its amount "
                "times the historical win rate of its current stage, spread over the coming "
                "months by how long won deals of that stage took to close, given how long the "
                "deal has already been in it. It gives expected values, without bands."
            ),
        )
    return (
        t(
            "Bookings already closed in the current month are facts, not forecasts. Each open "
            "deal's chance of being won, and when, comes from what became of past deals that sat "
            "in the same stage at a similar age: a deal far past the usual time gets a lower, "
            "later chance, and a deal that is lost cannot be won later. Where a stage has too "
            "few closed deals, all stages together are used, then the CRM's probability."
        ),
        t(
            "Deals not created yet are forecast from the trend of new pipeline per month, then "
            "turned into bookings with the historical share of new pipeline that is won and the "
            "usual delay from creation to win."
        ),
        t(
            "The run simulates {simulations} possible futures of all deals together (method "
            "{method}); the bands are percentiles of those simulated totals, for each month and "
            "for the quarter. Cash follows from the simulated won deals through the billing and "
            "payment terms in the config.",
            simulations=fmt.count(run.simulations),
            method=method_name(run.method, t),
        ),
    )
