"""1. Executive summary: the quarter's forecast, cash ahead, and the four KPIs with what moved them.

Periods. The summary reads the quarter holding as_of (a fiscal quarter when the build has a fiscal
year start; to date, since it ends at as_of) and its change against the quarter before from
mart_kpi_quarter_changes; the trailing-window value of mart_kpis is shown beside it. In the last
two weeks of a quarter its outcome is mostly settled, so the forecast card that leads is the next
quarter's, with the closing quarter's card beside it.

Attribution. Among the deals closed in a period whose last open stage is known, the win rate is
the product of the stage conversion rates (every such deal reached the first stage; a won deal
passed every stage), so a change in win rate splits exactly into the changes of log conversion per
stage. mart_conversion_quarter_changes measures them for both quarters; the stage whose conversion
moved the win rate furthest in the direction it went is named as the driver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from pipeline_analytics.report.data import Row, fetch, unavailable_reason, unreadable_reason
from pipeline_analytics.report.forecast_data import (
    ForecastRun,
    QuarterOutlook,
    StepProblem,
    cash_has_amounts,
    engine_outscored,
    forecast_problem,
    headline_reason,
    latest_run,
    quarter_outlook,
    step_problem_text,
    unbacked_engine_text,
)
from pipeline_analytics.report.formatting import is_missing
from pipeline_analytics.report.measurability import (
    Measure,
    all_time_win_rate_note,
    lost_stage_unknown_note,
    measure,
    missing_dates_notes,
    no_lost_deals_warning,
    not_measurable,
    open_without_amount_note,
    read_measures,
    stage_conversion_note,
)
from pipeline_analytics.report.model import (
    Block,
    Cell,
    Change,
    Column,
    KpiCard,
    KpiValue,
    Note,
    ReportContext,
    Section,
    Table,
)
from pipeline_analytics.report.sections.changes import since_last_run_card
from pipeline_analytics.report.targets_data import (
    RunTarget,
    beyond_horizon,
    lead_target,
    period_label,
    run_targets,
)

# A rate change below half a point, or a relative change below 1%, reads as "held steady".
STEADY_POINTS = 0.005
STEADY_RELATIVE = 0.01
CASH_HORIZON_DAYS = 90
# From this many days before a quarter's end, the summary's forecast leads with the next quarter.
CLOSING_QUARTER_DAYS = 14

# Changes read from mart_kpi_quarter_changes; the mean cycle is the one sales velocity uses.
CHANGE_KPIS = ("win_rate", "avg_won_size", "sales_velocity_per_day")
CLOSED_COUNTS = ("won_deals", "lost_deals")
QUARTER_KPIS = (*CHANGE_KPIS, "mean_cycle_days_won", *CLOSED_COUNTS)
# Below this many closed deals in either quarter, a change of win rate is mostly luck (2 of 2 won
# after 0 of 2 reads "up 100 points"): the card gives the counts instead of a change.
MIN_CLOSED_TO_COMPARE = 10
TRAILING_KPIS = (*CHANGE_KPIS, "mean_cycle_days_won", "open_deals", "open_pipeline_base")

QUARTER_COLUMNS = (
    "period_start",
    "period_end",
    "is_partial",
    "fiscal_year",
    "fiscal_quarter",
    "prev_period_start",
    "prev_period_end",
    "prev_fiscal_year",
    "prev_fiscal_quarter",
    "fiscal_year_start_month",
    "kpi",
    "value",
    "prev_period_value",
    "change_vs_prev_period",
    "rel_change_vs_prev_period",
)


@dataclass(frozen=True)
class Quarter:
    start: date
    end: datetime
    fiscal_year: int
    fiscal_quarter: int
    is_partial: bool


@dataclass(frozen=True)
class KpiChange:
    value: float | None
    before: float | None
    change: float | None  # value - before (points for a rate)
    relative: float | None  # value / before - 1


def summary_quarters(con: duckdb.DuckDBPyConnection) -> tuple[Quarter | None, Quarter | None]:
    """The quarter holding as_of and the one before it (None where the data has none)."""
    rows = fetch(con, "select * from mart_kpi_quarter_changes limit 1")
    if not rows:
        return None, None
    row = rows[0]
    current = Quarter(
        row["period_start"],
        row["period_end"],
        row["fiscal_year"],
        row["fiscal_quarter"],
        row["is_partial"],
    )
    if row["prev_period_start"] is None:
        return current, None
    # The quarter before the one holding as_of has ended: it is complete.
    previous = Quarter(
        row["prev_period_start"],
        row["prev_period_end"],
        row["prev_fiscal_year"],
        row["prev_fiscal_quarter"],
        False,
    )
    return current, previous


def months_after(first: date, months: int) -> date:
    """The first day of the month `months` months after `first`'s."""
    month = first.month + months
    return date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def quarter_end(quarter: Quarter) -> date:
    """The first day after the quarter (quarters are three months from their start)."""
    return months_after(quarter.start, 3)


def is_closing(quarter: Quarter, as_of: datetime) -> bool:
    """True when as_of is within the quarter's last two weeks: at most 14 days remain."""
    end = datetime.combine(quarter_end(quarter), datetime.min.time())
    return end - as_of <= timedelta(days=CLOSING_QUARTER_DAYS)


def next_quarter(quarter: Quarter) -> Quarter:
    """The (fiscal) quarter after `quarter`: still all ahead, so partial."""
    start = quarter_end(quarter)
    following = Quarter(start, datetime.min, quarter.fiscal_year, quarter.fiscal_quarter, True)
    end = datetime.combine(quarter_end(following), datetime.min.time()) - timedelta(microseconds=1)
    if quarter.fiscal_quarter == 4:
        return replace(following, end=end, fiscal_year=quarter.fiscal_year + 1, fiscal_quarter=1)
    return replace(following, end=end, fiscal_quarter=quarter.fiscal_quarter + 1)


def kpi_changes(con: duckdb.DuckDBPyConnection) -> dict[str, KpiChange]:
    """The summary's KPIs in the quarter and their change; a KPI the mart lacks has no values."""
    found = {
        r["kpi"]: KpiChange(
            r["value"],
            r["prev_period_value"],
            r["change_vs_prev_period"],
            r["rel_change_vs_prev_period"],
        )
        for r in fetch(con, "select * from mart_kpi_quarter_changes")
    }
    return {kpi: found.get(kpi, KpiChange(None, None, None, None)) for kpi in QUARTER_KPIS}


def stage_changes(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Each stage's conversion in both quarters and its share of the win rate's change."""
    return fetch(
        con, "select * from mart_conversion_quarter_changes order by pipeline, stage_order"
    )


def win_rate_driver(changes: list[Row], win_rate_change: float) -> Row | None:
    """The stage whose conversion change pushed the win rate furthest in the way it moved."""
    direction = 1 if win_rate_change > 0 else -1
    candidates = [
        row
        for row in changes
        if not is_missing(row["win_rate_log_change"]) and direction * row["win_rate_log_change"] > 0
    ]
    return max(candidates, key=lambda r: direction * r["win_rate_log_change"], default=None)


def fiscal_start_month(con: duckdb.DuckDBPyConnection) -> int:
    rows = fetch(con, "select fiscal_year_start_month from mart_kpi_quarter_changes limit 1")
    return rows[0]["fiscal_year_start_month"] if rows else 1


def quarter_label(quarter: Quarter, fiscal_start: int, ctx: ReportContext) -> str:
    if fiscal_start == 1:
        return ctx.fmt.quarter(quarter.fiscal_year, quarter.fiscal_quarter)
    return ctx.fmt.fiscal_quarter(quarter.fiscal_year, quarter.fiscal_quarter)


def summary_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t, fmt = ctx.t, ctx.fmt
    key, title = "summary", t("Executive summary")
    reason = unreadable_reason(
        con, t, "mart_kpi_quarter_changes", QUARTER_COLUMNS
    ) or unavailable_reason(con, t, "mart_kpis", TRAILING_KPIS)
    if reason:
        return Section(key, title, unavailable=reason)
    current, previous = summary_quarters(con)
    if current is None:
        return Section(
            key, title, unavailable=t("Not available yet: mart_kpis_by_period has no quarter.")
        )
    fiscal_start = fiscal_start_month(con)
    label = quarter_label(current, fiscal_start, ctx)
    previous_label = quarter_label(previous, fiscal_start, ctx) if previous else None
    changes = kpi_changes(con)
    trailing = fetch(con, f"select {', '.join(TRAILING_KPIS)} from mart_kpis")[0]
    stages = stage_changes(con)
    run = latest_run(con)
    problem = forecast_problem(con, run)
    shown_run = None if problem else run  # a newer skipped or failed forecast makes it stale
    upcoming = next_quarter(current) if is_closing(current, ctx.as_of) else None
    measures = read_measures(con)
    amounts = measure(measures, "open_pipeline_amount")
    since_last_run = since_last_run_card(con, ctx, shown_run)
    cards = (
        *target_cards(con, ctx, shown_run, upcoming or current, fiscal_start),
        *forecast_cards(con, ctx, shown_run, problem, current, upcoming, fiscal_start, previous),
        *((since_last_run,) if since_last_run else ()),
        cash_card(con, ctx, shown_run, problem),
        win_rate_card(
            ctx,
            changes["win_rate"],
            trailing["win_rate"],
            stages,
            measure(measures, "win_rate"),
            closed_deals(changes),
        ),
        relative_card(
            ctx,
            changes["avg_won_size"],
            trailing["avg_won_size"],
            column="avg_won_size",
            title=t("Average won deal"),
            show=fmt.money_compact,
        ),
        cycle_card(
            ctx,
            changes["mean_cycle_days_won"],
            trailing["mean_cycle_days_won"],
            changes["won_deals"].value,
        ),
        relative_card(
            ctx,
            changes["sales_velocity_per_day"],
            trailing["sales_velocity_per_day"],
            column="sales_velocity_per_day",
            title=t("Sales velocity per day"),
            show=fmt.money_compact,
            hint=t(
                "open deals × win rate × average won deal ÷ mean cycle days, at the period's end"
            ),
            caveat=open_without_amount_note(amounts, ctx),
            unmeasured=t(
                "Not measurable this quarter: it needs the win rate, the average won deal and "
                "the sales cycle of won deals."
            ),
            also=(
                KpiValue(
                    "open_pipeline_base",
                    trailing["open_pipeline_base"],
                    fmt.money_compact(trailing["open_pipeline_base"]),
                    t("open pipeline now"),
                ),
                KpiValue(
                    "open_deals",
                    trailing["open_deals"],
                    fmt.count(trailing["open_deals"]),
                    t("open deals"),
                ),
                *open_without_amount_detail(amounts, ctx),
            ),
        ),
    )
    intro = summary_intro(ctx, current, label, previous, previous_label, upcoming, fiscal_start)
    blocks = [
        *missing_dates_notes(measures, ctx),
        *all_time_win_rate_note(con, ctx),
        *stage_conversion_blocks(stages, measure(measures, "stage_conversion"), ctx),
    ]
    return Section(key, title, intro=intro, cards=cards, blocks=tuple(blocks))


# --- the quarter and the cash ---------------------------------------------------------------------


def summary_intro(
    ctx: ReportContext,
    current: Quarter,
    label: str,
    previous: Quarter | None,
    previous_label: str | None,
    upcoming: Quarter | None,
    fiscal_start: int,
) -> str:
    """The periods the cards compare, in whole sentences whatever quarters the data has."""
    t, fmt = ctx.t, ctx.fmt
    if previous is None or previous_label is None:
        periods = t(
            "{quarter} to date ({start} to {end}); the data has no quarter before it to compare "
            "with.",
            quarter=label,
            start=fmt.date(current.start),
            end=fmt.date(current.end),
        )
    else:
        periods = t(
            "{quarter} to date ({start} to {end}) against {previous} ({previous_start} to "
            "{previous_end}).",
            quarter=label,
            start=fmt.date(current.start),
            end=fmt.date(current.end),
            previous=previous_label,
            previous_start=fmt.date(previous.start),
            previous_end=fmt.date(previous.end),
        )
    sentences = [periods]
    if upcoming is not None:
        sentences.append(
            t(
                "{quarter} ends within two weeks, so the forecast leads with {next}.",
                quarter=label,
                next=quarter_label(upcoming, fiscal_start, ctx),
            )
        )
    sentences.append(
        t(
            "The smaller figure on each card covers the trailing {days} days.",
            days=fmt.count(ctx.lookback_days),
        )
    )
    return " ".join(sentences)


def forecast_cards(
    con: duckdb.DuckDBPyConnection,
    ctx: ReportContext,
    run: ForecastRun | None,
    problem: StepProblem | None,
    current: Quarter,
    upcoming: Quarter | None,
    fiscal_start: int,
    previous: Quarter | None,
) -> tuple[KpiCard, ...]:
    """The quarter forecast: the quarter holding as_of, led by the next one when it closes soon."""
    label = quarter_label(current, fiscal_start, ctx)
    previous_label = quarter_label(previous, fiscal_start, ctx) if previous else None
    closing = quarter_card(con, ctx, run, current, label, previous_label, problem)
    if upcoming is None:
        return (closing,)
    outlook = quarter_outlook(con, run, current.start, ctx.as_of) if run else None
    ahead = quarter_card(
        con,
        ctx,
        run,
        upcoming,
        quarter_label(upcoming, fiscal_start, ctx),
        label,
        problem,
        closing_outlook=outlook,
    )
    return (ahead, closing)


def quarter_card(
    con: duckdb.DuckDBPyConnection,
    ctx: ReportContext,
    run: ForecastRun | None,
    quarter: Quarter,
    label: str,
    previous_label: str | None,
    problem: StepProblem | None = None,
    *,
    closing_outlook: QuarterOutlook | None = None,
) -> KpiCard:
    """The quarter's bookings forecast. With `closing_outlook` the quarter is the next one, all
    ahead: it is compared with the expected finish of the closing quarter, not with facts."""
    t, fmt = ctx.t, ctx.fmt
    title = t("Bookings forecast, {quarter}", quarter=label)
    upcoming = closing_outlook is not None or quarter.start > ctx.as_of.date()
    key = "next_quarter_bookings" if upcoming else "quarter_bookings"
    empty = KpiValue(key, None, fmt.money_compact(None))
    if problem is not None:
        return KpiCard(title, empty, reading=step_problem_text(problem, t))
    if run is None:
        return KpiCard(
            title,
            empty,
            reading=t("Not available yet: no forecast run is stored in the warehouse."),
        )
    outlook = quarter_outlook(con, run, quarter.start, ctx.as_of)
    if outlook is None:
        return KpiCard(
            title,
            empty,
            reading=t("The forecast has no figure for {quarter}.", quarter=label),
        )
    centre = "p50" if outlook.has_bands else "mean"
    expected = outlook.expected
    details = [
        KpiValue(f"{key}_{p}", outlook.values[p], fmt.money_compact(outlook.values[p]), p.upper())
        for p in ("p10", "p90")
        if outlook.has_bands
    ]
    # The run's own target row (with its P(hit)); a run stored before targets: the configured one.
    stored = quarter_target(run_targets(con, run), quarter.start)
    target = (
        stored.target if stored else ctx.targets.get((quarter.fiscal_year, quarter.fiscal_quarter))
    )
    if target is not None:
        target_key = "next_quarter_target" if upcoming else "quarter_target"
        details.append(KpiValue(target_key, target, fmt.money_compact(target), t("target")))
    basis = t("P50 of the simulated quarter totals") if outlook.has_bands else t("expected value")
    if upcoming:
        before = closing_outlook.expected if closing_outlook else None
        change = relative_change(expected, before, ctx, higher_is_better=True)
        hint = (
            t(
                "{basis}; {previous} is expected to close at {previous_expected}.",
                basis=basis,
                previous=previous_label,
                previous_expected=fmt.money_compact(before),
            )
            if previous_label and not is_missing(before)
            else t("{basis}.", basis=basis)
        )
    else:
        change = relative_change(expected, outlook.previous_quarter_won, ctx, higher_is_better=True)
        hint = (
            t(
                "{basis}; {previous} closed at {previous_won}.",
                basis=basis,
                previous=previous_label,
                previous_won=fmt.money_compact(outlook.previous_quarter_won),
            )
            if previous_label
            else t("{basis}.", basis=basis)
        )
    if not outlook.complete:
        change = None  # a sum missing some of its months would read as a fall
    sentences = [
        quarter_reading(
            ctx,
            outlook.values,
            outlook.won_to_date,
            target,
            label,
            upcoming,
            p_hit=stored.p_hit if stored else None,
        ),
        # The reason goes on the leading card only: the next quarter's when it leads.
        headline_reason(run, t) if upcoming or not is_closing(quarter, ctx.as_of) else "",
    ]
    outscored = engine_outscored(con, run)
    if outscored:
        sentences.append(unbacked_engine_text(outscored, t))
    if not outlook.complete:
        sentences.append(
            t("The forecast horizon ends before the quarter does: the rest is missing.")
        )
    return KpiCard(
        title,
        KpiValue(f"{key}_{centre}", expected, fmt.money_compact(expected)),
        tuple(details),
        hint=hint,
        change=change,
        reading=" ".join(s for s in sentences if s),
    )


def quarter_reading(
    ctx: ReportContext,
    values: dict[str, float | None],
    won_to_date: float,
    target: float | None,
    label: str,
    upcoming: bool = False,
    p_hit: float | None = None,
) -> str:
    """Booked so far (or nothing yet, for a quarter ahead), expected, and the odds of a target
    (the run's P(hit) when it stored one, else where the target falls in the band); a figure the
    run lacks leaves its sentence out rather than showing a dash in it."""
    t, fmt = ctx.t, ctx.fmt
    banded = not is_missing(values.get("p10")) and not is_missing(values.get("p90"))
    expected = values.get("p50") if banded else values.get("mean")
    known = not is_missing(expected)
    if upcoming:
        sentences = [
            t(
                "{expected} expected in {quarter}.",
                expected=fmt.money_compact(expected),
                quarter=label,
            )
            if known
            else t("The forecast has no figure for {quarter}.", quarter=label)
        ]
    elif known:
        sentences = [
            t(
                "{won} booked so far, {expected} expected by the end of the quarter.",
                won=fmt.money_compact(won_to_date),
                expected=fmt.money_compact(expected),
            )
        ]
    else:
        sentences = [
            t(
                "{won} booked so far; the forecast has no figure for the rest of the quarter.",
                won=fmt.money_compact(won_to_date),
            )
        ]
    if target is None:
        sentences.append(t("No target is set for {quarter}.", quarter=label))
    elif not known:
        sentences.append(
            t(
                "The target for {quarter} is {target}.",
                quarter=label,
                target=fmt.money_compact(target),
            )
        )
    else:
        sentences.append(
            t("That is {share} of the target.", share=fmt.percent(expected / target, 0))
        )
        if not is_missing(p_hit):
            sentences.append(
                t("Chance of reaching the target: {chance}.", chance=fmt.percent(p_hit, 0))
            )
        elif banded and values["p90"] < target:
            sentences.append(t("The target is above P90: unlikely to be reached."))
        elif banded and values["p10"] >= target:
            sentences.append(t("The target is below P10: very likely to be reached."))
        elif banded:
            sentences.append(t("The target lies between P10 and P90."))
    return " ".join(sentences)


def quarter_target(targets: list[RunTarget], quarter_start: date) -> RunTarget | None:
    """The run's company-wide target of the quarter starting at `quarter_start`, if any."""
    found = [
        t
        for t in targets
        if t.company_wide and t.period_kind == "quarter" and t.period_start == quarter_start
    ]
    return found[0] if found else None


def target_cards(
    con: duckdb.DuckDBPyConnection,
    ctx: ReportContext,
    run: ForecastRun | None,
    leading: Quarter,
    fiscal_start: int,
) -> tuple[KpiCard, ...]:
    """The card the summary leads with when the run has a company-wide target: P(hit) and
    coverage of the leading quarter's target (else of the next company-wide period's)."""
    if run is None:
        return ()
    target = lead_target(run_targets(con, run), leading.start, ctx.as_of.date())
    if target is None:
        return ()
    t, fmt = ctx.t, ctx.fmt
    period = period_label(target, fiscal_start, ctx)
    details = (
        KpiValue("target", target.target, fmt.money_compact(target.target), t("target")),
        KpiValue(
            "target_closed_to_date",
            target.closed_to_date,
            fmt.money_compact(target.closed_to_date),
            t("closed to date"),
        ),
        KpiValue("target_coverage", target.coverage, fmt.ratio(target.coverage), t("coverage")),
    )
    return (
        KpiCard(
            t("Chance of hitting the target, {period}", period=period),
            KpiValue("target_p_hit", target.p_hit, fmt.percent(target.p_hit, 0)),
            details,
            hint=t("share of the forecast's simulations whose period total reaches the target"),
            reading=target_reading(target, run, period, ctx),
        ),
    )


def target_reading(target: RunTarget, run: ForecastRun, period: str, ctx: ReportContext) -> str:
    """Where the target stands: a fact once the period has ended, else P50 against it and what
    the open pipeline would have to deliver."""
    t, fmt = ctx.t, ctx.fmt
    money = fmt.money_compact
    if run.as_of is not None and target.period_end <= run.as_of.date():
        return t(
            "{period} has ended: {closed} booked against a target of {target}, reached."
            if target.closed_to_date >= target.target
            else "{period} has ended: {closed} booked against a target of {target}, missed.",
            period=period,
            closed=money(target.closed_to_date),
            target=money(target.target),
        )
    if beyond_horizon(target, run):
        return t(
            "{period} ends after the forecast horizon, so the chance of reaching its target "
            "cannot be simulated; {closed} of {target} booked so far.",
            period=period,
            closed=money(target.closed_to_date),
            target=money(target.target),
        )
    sentences = [
        t(
            "{closed} of {target} booked so far; the forecast's P50 is {p50} ({gap} against the "
            "target).",
            closed=money(target.closed_to_date),
            target=money(target.target),
            p50=money(target.p50),
            gap=fmt.signed(None if is_missing(target.p50) else target.p50 - target.target, money),
        )
    ]
    if target.remaining <= 0:
        sentences.append(t("The target is already reached."))
    elif is_missing(target.required_win_rate):
        sentences.append(
            t(
                "No deal is open: the {remaining} still to book must come from new deals.",
                remaining=money(target.remaining),
            )
        )
    elif target.required_win_rate > 1:
        sentences.append(
            t(
                "The open pipeline of {open} is less than the {remaining} still to book: new "
                "deals must close the gap.",
                open=money(target.open_pipeline),
                remaining=money(target.remaining),
            )
        )
    else:
        sentences.append(
            t(
                "The open pipeline of {open} covers the {remaining} still to book {coverage}: "
                "{rate} of it by value would have to be won.",
                open=money(target.open_pipeline),
                remaining=money(target.remaining),
                coverage=fmt.ratio(target.coverage),
                rate=fmt.percent(target.required_win_rate, 0),
            )
        )
    return " ".join(sentences)


CASH_SQL = (
    "select sum(collections_mean) as collections, min(month) as first_month, "
    "max(month) as last_month, count(*) as months from forecast_cashflow "
    "where run_id = ? and month >= ? and month < ?"
)


def cash_months(as_of: datetime) -> tuple[date, date]:
    """The three months closest to the next 90 days, [first, end): cash is forecast per month,
    so they start with as_of's month when as_of falls in its first half, else the month after."""
    shifted = as_of + timedelta(days=15)
    first = date(shifted.year, shifted.month, 1)
    return first, months_after(first, 3)


def cash_card(
    con: duckdb.DuckDBPyConnection,
    ctx: ReportContext,
    run: ForecastRun | None,
    problem: StepProblem | None = None,
) -> KpiCard:
    t, fmt = ctx.t, ctx.fmt
    title = t("Cash expected, next {days} days", days=fmt.count(CASH_HORIZON_DAYS))
    empty = KpiValue("cash_next_90_days", None, fmt.money_compact(None))
    if problem is not None:
        return KpiCard(title, empty, reading=step_problem_text(problem, t))
    reason = unavailable_reason(
        con, t, "forecast_cashflow", ("run_id", "month", "collections_mean")
    )
    if reason:
        return KpiCard(title, empty, reading=reason)
    if run is None:
        return KpiCard(
            title,
            empty,
            reading=t("Not available yet: no forecast run is stored in the warehouse."),
        )
    cash = fetch(con, CASH_SQL, [run.run_id, *cash_months(ctx.as_of)])[0]
    if not cash["months"]:
        return KpiCard(
            title,
            empty,
            reading=t("Not available yet: the forecast run has no cash flow for these months."),
        )
    if not cash_has_amounts(con, run):
        return KpiCard(
            title,
            empty,
            reading=t("The forecast has no cash flow: no open or won deal in it has an amount."),
        )
    return KpiCard(
        title,
        KpiValue("cash_next_90_days", cash["collections"], fmt.money_compact(cash["collections"])),
        hint=t(
            "Expected collections in the months {first} to {last}.",
            first=fmt.month(cash["first_month"]),
            last=fmt.month(cash["last_month"]),
        ),
        reading=t(
            "No collections history in the warehouse to compare with; see the cash flow section."
        ),
    )


# --- KPI changes ----------------------------------------------------------------------------------


def arrow(delta: float) -> str:
    return "▲" if delta > 0 else "▼"


def relative_change(
    now: Any, before: Any, ctx: ReportContext, *, higher_is_better: bool
) -> Change | None:
    if is_missing(now) or is_missing(before) or float(before) == 0:
        return None
    ratio = float(now) / float(before) - 1
    if abs(ratio) < STEADY_RELATIVE:
        return Change(ctx.t("steady"), "neutral")
    good = (ratio > 0) == higher_is_better
    return Change(f"{arrow(ratio)} {ctx.fmt.percent(abs(ratio), 0)}", "good" if good else "bad")


def trailing_detail(
    ctx: ReportContext, column: str, value: Any, show: Callable[[Any], str]
) -> KpiValue:
    label = ctx.t("last {days} days", days=ctx.fmt.count(ctx.lookback_days))
    return KpiValue(column, value, show(value), label)


def relative_card(
    ctx: ReportContext,
    kpi: KpiChange,
    trailing: Any,
    *,
    column: str,
    title: str,
    show: Callable[[Any], str],
    hint: str = "",
    also: tuple[KpiValue, ...] = (),
    caveat: str | None = None,
    unmeasured: str | None = None,
) -> KpiCard:
    """A KPI whose change is relative (a size, a speed); `caveat` is said after the reading,
    `unmeasured` instead of it when the quarter has no value."""
    t = ctx.t
    change = relative_change(kpi.value, kpi.before, ctx, higher_is_better=True)
    if is_missing(kpi.value) and unmeasured:
        reading = unmeasured
    elif change is None:
        reading = t("No comparison: the previous quarter has no value.")
    elif change.tone == "neutral":
        reading = t(
            "{what} held steady at {value} (previous quarter {before}).",
            what=title,
            value=show(kpi.value),
            before=show(kpi.before),
        )
    else:
        reading = t(
            "{what} rose {change} to {value}, from {before} in the previous quarter."
            if kpi.relative > 0
            else "{what} fell {change} to {value}, from {before} in the previous quarter.",
            what=title,
            change=ctx.fmt.percent(abs(kpi.relative), 0),
            value=show(kpi.value),
            before=show(kpi.before),
        )
    return KpiCard(
        title,
        KpiValue(f"quarter_{column}", kpi.value, show(kpi.value)),
        (trailing_detail(ctx, column, trailing, show), *also),
        hint=hint,
        change=change,
        reading=f"{reading} {caveat}" if caveat else reading,
    )


def open_without_amount_detail(amounts: Measure, ctx: ReportContext) -> tuple[KpiValue, ...]:
    """The count of open deals without an amount beside the open pipeline, when there are any."""
    if amounts.reason != "open_without_amount" or not amounts.deals_affected:
        return ()
    return (
        KpiValue(
            "open_deals_without_amount",
            amounts.deals_affected,
            ctx.fmt.count(amounts.deals_affected),
            ctx.t("open deals without amount"),
        ),
    )


def cycle_card(
    ctx: ReportContext, kpi: KpiChange, trailing: Any, won_deals: float | None = None
) -> KpiCard:
    t, fmt = ctx.t, ctx.fmt
    column = "mean_cycle_days_won"
    title = t("Sales cycle, won deals")
    change = relative_change(kpi.value, kpi.before, ctx, higher_is_better=False)
    if is_missing(kpi.value) and not is_missing(won_deals) and won_deals > 0:
        reading = t(
            "Not measurable: none of the {won} deals won this quarter has a creation date "
            "before its close date (see Data quality).",
            won=fmt.count(won_deals),
        )
    elif change is None:
        reading = t("No comparison: the previous quarter has no value.")
    elif change.tone == "neutral":
        reading = t(
            "{what} held steady at {value} (previous quarter {before}).",
            what=title,
            value=fmt.days(kpi.value),
            before=fmt.days(kpi.before),
        )
    elif kpi.change < 0:
        reading = t(
            "Won deals closed {days} days faster than in the previous quarter.",
            days=fmt.day_count(abs(kpi.change)),
        )
    else:
        reading = t(
            "Won deals closed {days} days slower than in the previous quarter.",
            days=fmt.day_count(abs(kpi.change)),
        )
    return KpiCard(
        title,
        KpiValue(f"quarter_{column}", kpi.value, fmt.days(kpi.value)),
        (trailing_detail(ctx, column, trailing, fmt.days),),
        hint=t("mean days from creation to close"),
        change=change,
        reading=reading,
    )


def closed_deals(changes: dict[str, KpiChange]) -> tuple[float | None, float | None]:
    """Deals closed (won or lost) in the quarter and in the one before."""

    def total(values: list[float | None]) -> float | None:
        return None if any(is_missing(v) for v in values) else sum(values)

    won, lost = changes["won_deals"], changes["lost_deals"]
    return total([won.value, lost.value]), total([won.before, lost.before])


def win_rate_card(
    ctx: ReportContext,
    kpi: KpiChange,
    trailing: Any,
    stages: list[Row],
    found: Measure | None = None,
    closed: tuple[float | None, float | None] = (None, None),
) -> KpiCard:
    """The win rate and what moved it; an export without lost deals gets a warning beside it."""
    card = win_rate_reading_card(ctx, kpi, trailing, stages, closed)
    if found is None or found.reason != "no_lost_deals":
        return card
    warning = no_lost_deals_warning(ctx)
    return KpiCard(
        card.title,
        card.main,
        card.details,
        card.hint,
        card.change,
        f"{warning} {card.reading}",
    )


def win_rate_reading_card(
    ctx: ReportContext,
    kpi: KpiChange,
    trailing: Any,
    stages: list[Row],
    closed: tuple[float | None, float | None] = (None, None),
) -> KpiCard:
    t, fmt = ctx.t, ctx.fmt
    title = t("Win rate")
    main = KpiValue("quarter_win_rate", kpi.value, fmt.percent(kpi.value))
    details = (trailing_detail(ctx, "win_rate", trailing, fmt.percent),)
    hint = t("won ÷ (won + lost), by number of deals")
    if is_missing(kpi.change):
        reading = t("No comparison: the previous quarter has no value.")
        return KpiCard(title, main, details, hint=hint, reading=reading)
    now, before = closed
    if not is_missing(now) and not is_missing(before) and min(now, before) < MIN_CLOSED_TO_COMPARE:
        reading = t(
            "{now} deals closed this quarter and {before} the quarter before: too few to read a "
            "change of win rate.",
            now=fmt.count(now),
            before=fmt.count(before),
        )
        return KpiCard(title, main, details, hint=hint, reading=reading)
    if abs(kpi.change) < STEADY_POINTS:
        reading = t(
            "{what} held steady at {value} (previous quarter {before}).",
            what=title,
            value=fmt.percent(kpi.value),
            before=fmt.percent(kpi.before),
        )
        return KpiCard(title, main, details, hint, Change(t("steady"), "neutral"), reading)
    change = Change(
        t("{arrow} {points} points", arrow=arrow(kpi.change), points=fmt.points(kpi.change)),
        "good" if kpi.change > 0 else "bad",
    )
    rose = kpi.change > 0
    driver = win_rate_driver(stages, kpi.change)
    if driver is None:
        reading = t(
            "Win rate rose {points} points to {value}."
            if rose
            else "Win rate fell {points} points to {value}.",
            points=fmt.points(kpi.change),
            value=fmt.percent(kpi.value),
        )
    else:
        reading = t(
            "Win rate rose {points} points to {value}, driven by {step} "
            "(conversion {before} → {now})."
            if rose
            else "Win rate fell {points} points to {value}, driven by {step} "
            "(conversion {before} → {now}).",
            points=fmt.points(kpi.change),
            value=fmt.percent(kpi.value),
            step=stage_step(driver, ctx),
            before=fmt.percent(driver["conversion_before"]),
            now=fmt.percent(driver["conversion_now"]),
        )
    return KpiCard(title, main, details, hint, change, reading)


def stage_step(row: Row, ctx: ReportContext) -> str:
    """ "Proposal → Negotiation"; the last open stage leads to "Won"."""
    next_stage = row["next_stage"] if row["next_stage"] is not None else ctx.t("Won")
    return f"{row['stage']} → {next_stage}"


def stage_conversion_blocks(stages: list[Row], found: Measure, ctx: ReportContext) -> list[Block]:
    """The quarter's stage conversion, or why the data cannot measure it (never a row of 100%)."""
    if not found.measurable:
        return [Note(stage_conversion_note(found, ctx), "unavailable")]
    measured = [r for r in stages if r["measured_now"] or r["measured_before"]]
    if stages and not measured:
        # Every lost deal of both quarters is of unknown stage: as bad as no history at all.
        return [Note(stage_conversion_note(Measure("stage_conversion"), ctx), "unavailable")]
    blocks: list[Block] = []
    if any(not is_missing(r["conversion_now"]) for r in stages):
        blocks.append(stage_change_table(stages, ctx))
    note = lost_stage_unknown_note(found, ctx)
    if blocks and note:
        blocks.append(Note(note))
    return blocks


def conversion_cell(row: Row, period: str, ctx: ReportContext) -> Cell:
    """A quarter's conversion of one step; "not measurable" when its lost deals have no stage."""
    if not row[f"measured_{period}"]:
        return Cell(not_measurable(ctx))
    return Cell(ctx.fmt.percent(row[f"conversion_{period}"]))


def stage_change_table(stages: list[Row], ctx: ReportContext) -> Table:
    t, fmt = ctx.t, ctx.fmt
    multi = len({row["pipeline"] for row in stages}) > 1
    columns = (
        *((Column(t("Pipeline"), numeric=False),) if multi else ()),
        Column(t("Step"), numeric=False),
        Column(t("Conversion, previous quarter")),
        Column(t("Conversion, this quarter")),
        Column(t("Change (points)")),
        Column(t("Closed deals through the step, this quarter")),
    )
    rows = []
    for row in stages:
        known = not (is_missing(row["conversion_now"]) or is_missing(row["conversion_before"]))
        delta = row["conversion_now"] - row["conversion_before"] if known else None
        change = fmt.signed(delta, fmt.points)
        rows.append(
            (
                *((Cell(row["pipeline"]),) if multi else ()),
                Cell(stage_step(row, ctx)),
                conversion_cell(row, "before", ctx),
                conversion_cell(row, "now", ctx),
                Cell(change),
                Cell(fmt.count(row["resolved_now"])),
            )
        )
    return Table(
        columns,
        tuple(rows),
        caption=t("Stage conversion of the deals closed in each quarter"),
    )
