"""What the data can measure (mart_measurability), and the sentences that say so in the report.

A metric the data cannot support is shown as "not measurable" with what would make it measurable,
never as the 100% or 0 its formula would give: without stage history every lost deal is of unknown
stage, so every conversion reads 100%; without lost deals every win rate does. A warehouse built
before mart_measurability existed has no rows to read, and every metric counts as measurable (the
report then shows what it always showed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import duckdb

from pipeline_analytics.report.data import fetch, table_columns
from pipeline_analytics.report.model import ReportContext

StintMetric = Literal["time_in_stage", "throughput", "stuck_deals"]
MEASURABILITY_COLUMNS = ("metric", "measurable", "reason", "deals_affected", "deals_considered")


@dataclass(frozen=True)
class Measure:
    """One row of mart_measurability: can the data measure `metric`, and if not, why."""

    metric: str
    measurable: bool = True
    reason: str | None = None
    deals_affected: int = 0
    deals_considered: int = 0


Measures = dict[str, Measure]


def read_measures(con: duckdb.DuckDBPyConnection) -> Measures:
    """Every metric's row; empty when the warehouse has no (complete) mart_measurability."""
    if not set(MEASURABILITY_COLUMNS) <= table_columns(con, "mart_measurability"):
        return {}
    rows = fetch(con, f"select {', '.join(MEASURABILITY_COLUMNS)} from mart_measurability")
    return {row["metric"]: Measure(**row) for row in rows}


def measure(measures: Measures, metric: str) -> Measure:
    """The metric's row, or a measurable one when the mart does not say."""
    return measures.get(metric, Measure(metric))


def not_measurable(ctx: ReportContext) -> str:
    """The text of a table cell or card value the data cannot support."""
    return ctx.t("not measurable")


def stage_conversion_note(found: Measure, ctx: ReportContext) -> str:
    """Why stage conversion cannot be measured and what would make it measurable."""
    t = ctx.t
    if found.reason == "no_lost_deals":
        return t(
            "Stage conversion is not measurable: the export has no closed-lost deals, so every "
            "step would read 100%. The export may leave them out (a report filter?); export the "
            "lost deals too."
        )
    return t(
        "Stage conversion is not measurable: none of the {lost} lost deals has a known last "
        "stage, so every step would read 100%. It needs stage history: export "
        "OpportunityHistory, or run weekly so history builds up.",
        lost=ctx.fmt.count(found.deals_affected),
    )


def lost_stage_unknown_note(found: Measure, ctx: ReportContext) -> str | None:
    """A measurable conversion that leaves out lost deals of unknown stage says how many."""
    if not found.measurable or found.reason != "lost_stage_unknown":
        return None
    return ctx.t(
        "{unknown} of {lost} lost deals have no known last stage and are left out of the "
        "conversion; stage history would place them.",
        unknown=ctx.fmt.count(found.deals_affected),
        lost=ctx.fmt.count(found.deals_considered),
    )


def stage_history_note(metric: StintMetric, found: Measure, ctx: ReportContext) -> str:
    """Why a metric built on stage stints (time in stage, throughput, stuck deals) is missing."""
    t = ctx.t
    if found.reason == "no_completed_stint":
        if metric == "stuck_deals":
            return t(
                "Time in stage and stuck deals are not measurable yet: no deal has left an open "
                "stage since its stage history began. Run weekly so history builds up."
            )
        return t(
            "Time in stage is not measurable yet: no deal has left an open stage since its "
            "stage history began. Run weekly so history builds up."
        )
    if metric == "throughput":
        return t(
            "Stage throughput is not measurable: it needs stage history (without it every deal "
            "seems to enter its stage and never leave). Export OpportunityHistory, or run weekly "
            "so history builds up."
        )
    if metric == "stuck_deals":
        return t(
            "Time in stage and stuck deals are not measurable: they need stage history. Export "
            "OpportunityHistory, or run weekly so history builds up."
        )
    return t(
        "Time in stage is not measurable: it needs stage history. Export OpportunityHistory, or "
        "run weekly so history builds up."
    )


def no_lost_deals_warning(ctx: ReportContext) -> str:
    return ctx.t(
        "No closed-lost deals in the export: it may leave them out (a report filter?); the win "
        "rate may be overstated."
    )


def open_without_amount_note(found: Measure, ctx: ReportContext) -> str | None:
    """How many open deals have no amount: the open pipeline leaves them out, velocity does not."""
    if found.reason != "open_without_amount" or not found.deals_affected:
        return None
    return ctx.t(
        "{missing} of {open} open deals have no amount: the open pipeline leaves them out, while "
        "sales velocity counts each at the average won deal.",
        missing=ctx.fmt.count(found.deals_affected),
        open=ctx.fmt.count(found.deals_considered),
    )
