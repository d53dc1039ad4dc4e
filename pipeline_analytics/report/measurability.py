"""What the data can measure (mart_measurability), and the sentences that say so in the report.

A metric the data cannot support is shown as "not measurable" with what would make it measurable,
never as the 100% or 0 its formula would give: without stage history every lost deal is of unknown
stage, so every conversion reads 100%; without lost deals every win rate does; without close dates
every windowed figure is empty (a win/loss extract then shows its win rates over every closed deal,
from mart_win_rate_all_time), and deals without a creation date leave cycle figures. A warehouse
built before mart_measurability existed has no rows to read, and every metric counts as measurable
(the report then shows what it always showed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import duckdb

from pipeline_analytics.report.data import fetch, table_columns
from pipeline_analytics.report.model import Block, Cell, Column, Note, ReportContext, Table

StintMetric = Literal["time_in_stage", "throughput", "stuck_deals"]
MEASURABILITY_COLUMNS = ("metric", "measurable", "reason", "deals_affected", "deals_considered")
ALL_TIME_COLUMNS = (
    "dimension",
    "dimension_value",
    "won_deals",
    "lost_deals",
    "win_rate",
    "win_rate_amount",
    "avg_won_size",
)
AllTimeCut = Literal["owner", "lead_source"]
CLOSED_WITHOUT_CREATED = ("closed_deals", "closed_without_created_at")


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


# --- what missing dates leave out ----------------------------------------------------------------


def missing_dates_notes(measures: Measures, ctx: ReportContext) -> list[Note]:
    """What the export's missing close and creation dates take out of the figures, and why."""
    t, fmt = ctx.t, ctx.fmt
    notes = []
    windows = measure(measures, "time_windows")
    if windows.reason == "no_close_dates":
        notes.append(
            Note(
                t(
                    "None of the {closed} closed deals has a close date, so no figure over time "
                    "is measurable: the win rate, average won deal, sales cycle and velocity "
                    "above, the results per owner and per lead source, the bookings, the "
                    "forecast and its backtest all need close dates. Map the close-date column "
                    "([sources.columns] closed_at) to see them.",
                    closed=fmt.count(windows.deals_considered),
                ),
                "unavailable",
            )
        )
    cycle = measure(measures, "cycle_time")
    if cycle.reason == "no_created_dates" and cycle.deals_considered:
        notes.append(
            Note(
                t(
                    "No deal has a creation date, so the sales cycle, the sales velocity and the "
                    "deals and pipeline created per period are not measurable, and the forecast "
                    "cannot use deal ages. Map the created-date column ([sources.columns] "
                    "created_at) to see them."
                ),
                "unavailable",
            )
        )
    elif cycle.reason == "missing_created_at":
        notes.append(
            Note(
                t(
                    "{missing} of {deals} deals have no creation date: the sales cycle, the deals "
                    "and pipeline created per period and the forecast's deal-age model leave them "
                    "out; win rates, the open pipeline, bookings and stage conversion count them "
                    "(see Data quality).",
                    missing=fmt.count(cycle.deals_affected),
                    deals=fmt.count(cycle.deals_considered),
                )
            )
        )
    return notes


def cycle_time_note(
    con: duckdb.DuckDBPyConnection, measures: Measures, ctx: ReportContext
) -> Note | None:
    """Why time to close cannot be measured ("unavailable"), or how many closed deals it leaves
    out for want of a creation date."""
    t = ctx.t
    if measure(measures, "time_windows").reason == "no_close_dates":
        text = t(
            "Time to close is not measurable: no closed deal has a close date. Map the close-date "
            "column ([sources.columns] closed_at)."
        )
        return Note(text, "unavailable")
    cycle = measure(measures, "cycle_time")
    if cycle.reason == "no_created_dates" and cycle.deals_considered:
        text = t(
            "Time to close is not measurable: no deal has a creation date. Map the created-date "
            "column ([sources.columns] created_at)."
        )
        return Note(text, "unavailable")
    if cycle.reason != "missing_created_at" or not set(CLOSED_WITHOUT_CREATED) <= table_columns(
        con, "mart_time_to_close"
    ):
        return None
    closed = fetch(con, f"select {', '.join(CLOSED_WITHOUT_CREATED)} from mart_time_to_close")
    if not closed or not closed[0]["closed_without_created_at"]:
        return None
    text = t(
        "{missing} of the {closed} closed deals have no creation date and are left out of the "
        "time to close.",
        missing=ctx.fmt.count(closed[0]["closed_without_created_at"]),
        closed=ctx.fmt.count(closed[0]["closed_deals"]),
    )
    return Note(text)


def flow_created_note(measures: Measures, ctx: ReportContext) -> str | None:
    """A deal without a creation date enters the flow when first seen: say so where it matters."""
    cycle = measure(measures, "cycle_time")
    if cycle.reason == "no_created_dates" and cycle.deals_considered:
        return ctx.t(
            "No deal has a creation date, so a deal counts as created when an export first "
            "showed it (or its stage history began): the first export's whole pipeline reads as "
            "created."
        )
    if cycle.reason == "missing_created_at":
        return ctx.t(
            "{missing} of {deals} deals have no creation date: each counts as created when an "
            "export first showed it (or its stage history began).",
            missing=ctx.fmt.count(cycle.deals_affected),
            deals=ctx.fmt.count(cycle.deals_considered),
        )
    return None


def undated(con: duckdb.DuckDBPyConnection) -> bool:
    """No closed deal has a close date (a win/loss extract) and the all-time mart can be read."""
    if measure(read_measures(con), "time_windows").reason != "no_close_dates":
        return False
    return set(ALL_TIME_COLUMNS) <= table_columns(con, "mart_win_rate_all_time")


def all_time_win_rate_note(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Note]:
    """Without close dates, the win rate over every closed deal, whenever it closed."""
    if not undated(con):
        return []
    rows = fetch(
        con,
        f"select {', '.join(ALL_TIME_COLUMNS)} from mart_win_rate_all_time where dimension = 'all'",
    )
    if not rows or not rows[0]["won_deals"] + rows[0]["lost_deals"]:
        return []
    t, fmt = ctx.t, ctx.fmt
    total = rows[0]
    return [
        Note(
            t(
                "Over all {closed} closed deals in the export, whenever they closed: {won} won and "
                "{lost} lost, a win rate of {rate} by number of deals and {rate_amount} by amount; "
                "the average won deal is {average}. No window and no trend: the export does not "
                "say when they closed.",
                closed=fmt.count(total["won_deals"] + total["lost_deals"]),
                won=fmt.count(total["won_deals"]),
                lost=fmt.count(total["lost_deals"]),
                rate=fmt.percent(total["win_rate"]),
                rate_amount=fmt.percent(total["win_rate_amount"]),
                average=fmt.money(total["avg_won_size"]),
            )
        )
    ]


def all_time_win_rate_blocks(
    con: duckdb.DuckDBPyConnection, ctx: ReportContext, cut: AllTimeCut
) -> list[Block]:
    """Without close dates: won, lost and win rates per owner or lead source over every closed
    deal, in place of the windowed columns the export cannot fill."""
    if not undated(con):
        return []
    rows = fetch(
        con,
        f"select {', '.join(ALL_TIME_COLUMNS)} from mart_win_rate_all_time "
        "where dimension = ? order by won_deals + lost_deals desc, dimension_value",
        [cut],
    )
    if not rows:
        return []
    t, fmt = ctx.t, ctx.fmt
    label = t("Owner") if cut == "owner" else t("Lead source")
    missing = t("(no owner)") if cut == "owner" else t("(no lead source)")
    note = t(
        "The won, lost and win-rate columns above count the deals closed in the trailing window, "
        "and no closed deal has a close date. Over all closed deals, whenever they closed:"
    )
    columns = (
        Column(label, numeric=False),
        Column(t("Won")),
        Column(t("Lost")),
        Column(t("Win rate")),
        Column(t("Win rate by amount")),
        Column(t("Avg won deal ({currency})", currency=ctx.currency)),
    )
    table_rows = tuple(
        (
            Cell(missing if row["dimension_value"] == "(none)" else row["dimension_value"]),
            Cell(fmt.count(row["won_deals"]), row["won_deals"]),
            Cell(fmt.count(row["lost_deals"]), row["lost_deals"]),
            Cell(fmt.percent(row["win_rate"]), row["win_rate"]),
            Cell(fmt.percent(row["win_rate_amount"]), row["win_rate_amount"]),
            Cell(fmt.number(row["avg_won_size"]), row["avg_won_size"]),
        )
        for row in rows
    )
    return [Note(note, "unavailable"), Table(columns, table_rows, sortable=True)]
