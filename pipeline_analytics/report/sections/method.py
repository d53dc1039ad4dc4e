"""10. Method: the definitions behind the numbers and how the forecast works, in plain words."""

from __future__ import annotations

import duckdb

from pipeline_analytics.report.forecast_data import (
    ENGINE,
    ForecastRun,
    has_stage_history,
    headline_reason,
    latest_run,
    method_name,
    open_deals_by_basis,
)
from pipeline_analytics.report.model import Paragraphs, ReportContext, Section


def method_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    parts = (
        (t("Definitions"), definitions(ctx)),
        (t("How the forecast works"), forecast_explained(con, latest_run(con), ctx)),
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


def forecast_explained(
    con: duckdb.DuckDBPyConnection, run: ForecastRun | None, ctx: ReportContext
) -> tuple[str, ...]:
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
    paragraphs = [
        t(
            "Bookings already closed in the current month are facts, not forecasts. Each open "
            "deal's chance of being won, and when, comes from the best-supported of four models: "
            "what became of past deals that sat in the same stage at a similar age, where the "
            "export has stage history; else what became of past deals of the same age since "
            "creation (won, lost or still open); else the CRM's or the configured probability, "
            "timed by the usual sales cycle; else the overall historical win rate. A deal far "
            "past the usual time gets a lower, later chance, and a deal that is lost cannot be "
            "won later. An open deal without an amount is given the median won amount of similar "
            "deals. The forecast section counts the deals each model covered."
        ),
    ]
    counts = open_deals_by_basis(con, run)
    if counts and not has_stage_history(counts):
        paragraphs.append(
            t(
                "This export has no stage history, so no open deal could be forecast from its "
                "stage's record: the current stage acts only through the probabilities (the "
                "CRM's, or those in the config). Loading the stage history, or running weekly so "
                "that it builds up, lets the stage count."
            )
        )
    paragraphs += [
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
            method=method_name(run.method if run.engine_leads else ENGINE, t),
        ),
    ]
    if run.headline is not None:
        paragraphs.append(
            " ".join(
                [
                    t(
                        "The headline is the method that has earned it: the backtest forecasts "
                        "past month-ends with the engine and with simple methods, and the "
                        "headline is the engine when it had the lowest error at every horizon, "
                        "else the best method, or the median of the engine and the two best "
                        "simple methods when that did better. Its P10–P90 band is then widened "
                        "or narrowed so that it would have held about 8 in 10 of the actual "
                        "outcomes."
                    ),
                    headline_reason(run, t),
                ]
            )
        )
    return tuple(paragraphs)
