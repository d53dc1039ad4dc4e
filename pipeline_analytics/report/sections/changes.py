"""What changed since the last run: the P50 of a period between two base runs, split by cause.

The report compares its run (the latest) with the base run before it, or with the run
`report --compare RUN_ID_OR_DATE` names (a date picks the newest base run as of that day or
earlier). sql/forecast/change_causes.sql splits the change of the engine's P50 (component
`total`) of a fiscal quarter or year into new deals, deals won, lost, gone from the export, pushed
out or pulled in across the period's boundary, amount changes and the pipeline not yet created;
the model's part (same deals, new estimates) is the rest, so the parts add up to the change. The
summary carries one card for the quarter it leads with; the section has the table for that quarter
and the fiscal year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import duckdb

from pipeline_analytics.errors import InputError
from pipeline_analytics.forecast.calendar import add_months
from pipeline_analytics.forecast.deal_periods import PERIOD_MONTHS
from pipeline_analytics.report.data import fetch, table_columns
from pipeline_analytics.report.forecast_data import (
    ForecastRun,
    forecast_problem,
    latest_run,
    method_name,
)
from pipeline_analytics.report.measurability import not_measurable
from pipeline_analytics.report.model import (
    Cell,
    Column,
    KpiCard,
    KpiValue,
    Note,
    ReportContext,
    Section,
    Table,
)
from pipeline_analytics.sql_files import sql_statement

RUNS_LISTED = 10  # an error lists this many base runs, newest first
CLOSING_QUARTER_DAYS = 14  # as the summary: in a quarter's last two weeks, the next one leads
RESIDUAL = "model"
# Every cause, in the order a deal is given the first that applies (change_causes.sql).
CAUSES = ("new", "won", "lost", "removed", "pushed", "pulled", "amount", "not_yet_created")
CAUSES += (RESIDUAL,)
DEAL_LESS = frozenset({"not_yet_created", RESIDUAL})
CROSSING = frozenset({"pushed", "pulled"})


@dataclass(frozen=True)
class BaseRun:
    run_id: int
    as_of: datetime
    has_deal_periods: bool


@dataclass(frozen=True)
class Cause:
    cause: str
    deals: int | None  # None for the parts no deal carries (not yet created, the model)
    delta: float


@dataclass(frozen=True)
class ChangeBreakdown:
    """The P50 of one period in two runs and the causes of its change, adding up to it."""

    p50_previous: float
    p50_now: float
    causes: tuple[Cause, ...]
    # Of the model's part: what the re-estimated chances of the deals in both runs moved the
    # expected value by (the rest is the median's move against the mean, and sampling noise).
    reestimated: float
    # Deals open in both runs, and those of them without an expected close date in either run:
    # whether these crossed the period's edge cannot be told (their change is the model's).
    continuing_deals: int = 0
    undated_deals: int = 0

    @property
    def change(self) -> float:
        return self.p50_now - self.p50_previous

    @property
    def crossings_unknown(self) -> bool:
        """No deal open in both runs has a close date in both: no push or pull can be told."""
        return 0 < self.continuing_deals == self.undated_deals


# --- which runs -----------------------------------------------------------------------------------


def base_runs(con: duckdb.DuckDBPyConnection) -> list[BaseRun]:
    """Stored base runs, newest first (as the report picks its latest run)."""
    if not table_columns(con, "forecast_deal_periods") or "scenario" not in table_columns(
        con, "forecast_runs"
    ):
        return []
    return [
        BaseRun(r["run_id"], r["as_of"], r["has_deal_periods"])
        for r in fetch(con, sql_statement("forecast/change_runs"))
    ]


def previous_run(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> BaseRun | None:
    """The base run stored just before `run`, None when `run` is the first."""
    runs = base_runs(con)
    ids = [r.run_id for r in runs]
    if run.run_id not in ids:
        return None
    later = ids.index(run.run_id) + 1
    return runs[later] if later < len(runs) else None


def compared_run(con: duckdb.DuckDBPyConnection, value: str) -> int:
    """The base run `report --compare` names: a run id, or a date (YYYY-MM-DD, or with a time)
    picking the newest base run as of it or earlier (a whole day when no time is given)."""
    runs = base_runs(con)
    if not runs:
        raise InputError(
            f"--compare {value}: no base forecast run is stored yet; run `pipeline-analytics "
            "forecast` first"
        )
    latest = runs[0]
    if value.isdigit():
        chosen = next((r for r in runs if r.run_id == int(value)), None)
        if chosen is None:
            raise InputError(f"--compare {value}: no base forecast run {value}; {listed(runs)}")
    else:
        until = moment_of(value, runs)
        earlier = [r for r in runs if r.as_of <= until]
        if not earlier:
            raise InputError(
                f"--compare {value}: no base forecast run as of that date or earlier; "
                f"{listed(runs)}"
            )
        chosen = max(earlier, key=lambda r: r.as_of)
    if chosen.run_id == latest.run_id:
        raise InputError(
            f"--compare {value}: that is run {latest.run_id}, the latest, which the report "
            f"shows; name an earlier one; {listed(runs)}"
        )
    return chosen.run_id


def moment_of(value: str, runs: list[BaseRun]) -> datetime:
    """The end of a --compare date: the last instant of a day, or the moment given."""
    try:
        if len(value) == len("YYYY-MM-DD"):
            return datetime.combine(date.fromisoformat(value), time.max)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--compare {value}: neither a run id nor a date (YYYY-MM-DD); {listed(runs)}"
        ) from None
    # Warehouse timestamps are naive UTC.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def listed(runs: list[BaseRun]) -> str:
    shown = ", ".join(f"run {r.run_id} as of {r.as_of:%Y-%m-%d %H:%M}" for r in runs[:RUNS_LISTED])
    more = f" and {len(runs) - RUNS_LISTED} older" if len(runs) > RUNS_LISTED else ""
    return f"base runs stored, newest first: {shown}{more}"


# --- the breakdown --------------------------------------------------------------------------------


def period_changes(
    con: duckdb.DuckDBPyConnection, previous: int, run: int, kind: str, start: date
) -> ChangeBreakdown | None:
    """The change of the period's P50 from run `previous` to run `run`, by cause; None when
    either run has no P50 for the period."""
    found = fetch(
        con,
        sql_statement("forecast/change_causes"),
        {
            "previous": previous,
            "run": run,
            "period_kind": kind,
            "period_start": start,
            "period_end": add_months(start, PERIOD_MONTHS[kind]),
        },
    )
    first = found[0]
    if first["p50_previous"] is None or first["p50_now"] is None:
        return None
    parts = {r["cause"]: r for r in found}
    return ChangeBreakdown(
        p50_previous=first["p50_previous"],
        p50_now=first["p50_now"],
        causes=tuple(
            Cause(c, parts[c]["deals"], parts[c]["delta"])
            if c in parts
            else Cause(c, None if c in DEAL_LESS else 0, 0.0)
            for c in CAUSES
        ),
        reestimated=first["reestimated"],
        continuing_deals=first["continuing_deals"],
        undated_deals=first["undated_deals"],
    )


def fiscal_start_month(run: ForecastRun) -> int:
    month = run.config.get("fiscal_year_start_month")
    return month if isinstance(month, int) and 1 <= month <= 12 else 1


def lead_quarter_start(run: ForecastRun, as_of: datetime) -> date:
    """The fiscal quarter the summary leads with: the one holding as_of, or the next in its last
    two weeks."""
    start_month = fiscal_start_month(run)
    month = date(as_of.year, as_of.month, 1)
    start = add_months(month, -((month.month - start_month) % 3))
    end = datetime.combine(add_months(start, 3), time.min)
    return add_months(start, 3) if end - as_of <= timedelta(days=CLOSING_QUARTER_DAYS) else start


def year_start(run: ForecastRun, as_of: datetime) -> date:
    """The first day of the fiscal year holding as_of."""
    month = date(as_of.year, as_of.month, 1)
    return add_months(month, -((month.month - fiscal_start_month(run)) % 12))


def period_label(run: ForecastRun, kind: str, start: date, ctx: ReportContext) -> str:
    """ "Q1 2026", "Q1 FY2027", "2026", "FY2027": a fiscal year is named by the year it ends in."""
    start_month = fiscal_start_month(run)
    fiscal_year = start.year + (1 if start_month != 1 and start.month >= start_month else 0)
    if kind == "year":
        if start_month == 1:
            return ctx.t("year {year}", year=str(fiscal_year))
        return ctx.t("fiscal year FY{year}", year=str(fiscal_year))
    quarter = (start.month - start_month) % 12 // 3 + 1
    if start_month == 1:
        return ctx.fmt.quarter(start.year, quarter)
    return ctx.fmt.fiscal_quarter(fiscal_year, quarter)


def cause_label(cause: str, ctx: ReportContext) -> str:
    t = ctx.t
    return {
        "new": t("New deals since then"),
        "won": t("Won since then"),
        "lost": t("Lost since then"),
        "removed": t("Gone from the export since then"),
        "pushed": t("Close date pushed across the period's edge"),
        "pulled": t("Close date pulled across the period's edge"),
        "amount": t("Amount changed"),
        "not_yet_created": t("Pipeline not yet created"),
        RESIDUAL: t("Model: same deals, new estimates (the rest)"),
    }.get(cause, cause)


# --- what the report shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """The two runs compared, or why there is nothing to compare (`unavailable`)."""

    run: ForecastRun
    previous: BaseRun | None
    unavailable: str | None = None


def comparison(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Comparison | None:
    """The latest base run against the one named by --compare, else the one before it; None
    without a forecast to show."""
    run = latest_run(con)
    if run is None or forecast_problem(con, run) is not None:
        return None
    t = ctx.t
    runs = {r.run_id: r for r in base_runs(con)}
    if ctx.compare_run_id is not None:
        previous = runs.get(ctx.compare_run_id)
    else:
        previous = previous_run(con, run)
    if previous is None:
        return Comparison(
            run,
            None,
            t(
                "Nothing to compare yet: run {run} is the first forecast stored.",
                run=str(run.run_id),
            ),
        )
    for earlier in (previous, runs.get(run.run_id)):
        if earlier is not None and not earlier.has_deal_periods:
            return Comparison(
                run,
                previous,
                t(
                    "Run {run} was made before forecasts stored each deal's part in each period, "
                    "so its change cannot be split by cause; the next run will be compared with "
                    "run {latest}.",
                    run=str(earlier.run_id),
                    latest=str(run.run_id),
                ),
            )
    return Comparison(run, previous)


def signed_money(value: float | None, ctx: ReportContext) -> str:
    return ctx.fmt.signed(value, ctx.fmt.money_compact)


def causes_sentence(found: ChangeBreakdown, ctx: ReportContext) -> str:
    """ "new deals since then +$600; won since then +$200; …": the parts that moved it, largest
    first."""
    moved = sorted(
        (c for c in found.causes if round(c.delta) != 0),
        key=lambda c: abs(c.delta),
        reverse=True,
    )
    return "; ".join(
        f"{cause_label(c.cause, ctx).lower()} {signed_money(c.delta, ctx)}" for c in moved
    )


def since_last_run_card(
    con: duckdb.DuckDBPyConnection, ctx: ReportContext, run: ForecastRun | None
) -> KpiCard | None:
    """The summary's card: how the P50 of the quarter it leads with moved since the run
    compared with, and why; None without a forecast to show."""
    found = comparison(con, ctx) if run is not None else None
    if found is None:
        return None
    t, fmt = ctx.t, ctx.fmt
    start = lead_quarter_start(found.run, ctx.as_of)
    label = period_label(found.run, "quarter", start, ctx)
    title = t("Change since the last run, {quarter}", quarter=label)
    empty = KpiValue("p50_change_since_previous_run", None, fmt.money_compact(None))
    if found.previous is None or found.unavailable:
        return KpiCard(title, empty, reading=found.unavailable or "")
    breakdown = period_changes(con, found.previous.run_id, found.run.run_id, "quarter", start)
    if breakdown is None:
        return KpiCard(
            title,
            empty,
            reading=t(
                "Run {run} did not forecast {quarter}: nothing to compare.",
                run=str(found.previous.run_id),
                quarter=label,
            ),
        )
    reading = t(
        "The P50 of {quarter} moved from {before} in run {previous} ({date}) to {now}: {causes}.",
        quarter=label,
        before=fmt.money_compact(breakdown.p50_previous),
        previous=str(found.previous.run_id),
        date=fmt.date(found.previous.as_of),
        now=fmt.money_compact(breakdown.p50_now),
        causes=causes_sentence(breakdown, ctx) or t("nothing moved it"),
    )
    return KpiCard(
        title,
        KpiValue(
            "p50_change_since_previous_run", breakdown.change, signed_money(breakdown.change, ctx)
        ),
        hint=t("change of the engine's P50 of the quarter, split by cause"),
        reading=reading,
    )


def changes_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "changes", t("What changed since the last run")
    found = comparison(con, ctx)
    if found is None:
        return Section(
            key,
            title,
            unavailable=t("Not available yet: no forecast run is stored in the warehouse."),
        )
    if found.previous is None or found.unavailable:
        return Section(key, title, blocks=(Note(found.unavailable or "", "unavailable"),))
    run, previous = found.run, found.previous
    periods = (
        ("quarter", lead_quarter_start(run, ctx.as_of)),
        ("year", year_start(run, ctx.as_of)),
    )
    found_periods = [
        (kind, start, period_changes(con, previous.run_id, run.run_id, kind, start))
        for kind, start in periods
    ]
    shown = [(k, s, b) for k, s, b in found_periods if b is not None]
    intro = t(
        "Run {run} ({date}) against run {previous} ({previous_date}): the engine's P50 of each "
        "period, and what moved it. A deal takes the first cause that applies, in the order of "
        "the table; the model's part is the rest, so the parts add up to the change.",
        run=str(run.run_id),
        date=ctx.fmt.date(run.as_of),
        previous=str(previous.run_id),
        previous_date=ctx.fmt.date(previous.as_of),
    )
    blocks = []
    missing = [(k, s) for k, s, b in found_periods if b is None]
    for kind, start in missing:
        blocks.append(
            Note(
                t(
                    "Run {run} did not forecast {period}: its change cannot be measured.",
                    run=str(previous.run_id),
                    period=period_label(run, kind, start, ctx),
                ),
                "unavailable",
            )
        )
    if shown:
        blocks.append(causes_table(run, shown, ctx))
        blocks.append(Note(model_note(shown, run, ctx)))
        undated = undated_note(shown[0][2], previous, run, ctx)
        if undated:
            blocks.append(Note(undated, "unavailable"))
    if not run.engine_leads:
        blocks.append(
            Note(
                t(
                    "The headline is {method}'s forecast; the breakdown explains the engine's "
                    "P50, which the deals make up.",
                    method=method_name(run.method, t),
                )
            )
        )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


def causes_table(
    run: ForecastRun, shown: list[tuple[str, date, ChangeBreakdown]], ctx: ReportContext
) -> Table:
    t, fmt = ctx.t, ctx.fmt
    columns = [Column(t("Cause of the change"), numeric=False)]
    for kind, start, _ in shown:
        label = period_label(run, kind, start, ctx)
        columns += [
            Column(t("Deals, {period}", period=label)),
            Column(t("Change, {period} ({currency})", period=label, currency=ctx.currency)),
        ]
    first = shown[0][2]
    body = [
        (
            Cell(t("P50 in the run compared with")),
            *(
                cell
                for _, _, b in shown
                for cell in (Cell(""), Cell(fmt.number(b.p50_previous), b.p50_previous))
            ),
        )
    ]
    for i, cause in enumerate(first.causes):
        row = [Cell(cause_label(cause.cause, ctx))]
        for _, _, b in shown:
            part = b.causes[i]
            if part.cause in CROSSING and b.crossings_unknown:
                row += [Cell(not_measurable(ctx)), Cell(not_measurable(ctx))]
                continue
            row += [
                Cell("—" if part.deals is None else fmt.count(part.deals), part.deals),
                Cell(fmt.signed(part.delta, fmt.number), part.delta),
            ]
        body.append(tuple(row))
    body.append(
        (
            Cell(t("P50 now")),
            *(
                cell
                for _, _, b in shown
                for cell in (Cell(""), Cell(fmt.number(b.p50_now), b.p50_now))
            ),
        )
    )
    return Table(tuple(columns), tuple(body), caption=t("The change of the P50, by cause"))


def model_note(
    shown: list[tuple[str, date, ChangeBreakdown]], run: ForecastRun, ctx: ReportContext
) -> str:
    """What the residual holds, with the re-estimates of the first period measured."""
    kind, start, found = shown[0]
    return ctx.t(
        "The model's part is the residual: the P50 change less every other part. In {period}, "
        "the new estimates of the deals open in both runs moved their expected value by "
        "{reestimated}; the rest is the median's move against the mean and sampling noise. "
        "Pushed and pulled deals are those whose CRM close date crossed the period's edge; "
        "the engine times deals from the history of deals like them, so a push moves the "
        "forecast only as far as the deal's estimate moved.",
        period=period_label(run, kind, start, ctx),
        reestimated=signed_money(found.reestimated, ctx),
    )


def undated_note(
    found: ChangeBreakdown, previous: BaseRun, run: ForecastRun, ctx: ReportContext
) -> str | None:
    """Why pushes and pulls are not (all) told: deals open in both runs without a close date."""
    if not found.undated_deals:
        return None
    return ctx.t(
        "{undated} of the {deals} deals open in both runs have no expected close date in run "
        "{previous} or run {run} (an export without close dates, or a run as of a moment before "
        "the export that had them): whether they were pushed or pulled cannot be told, and their "
        "change is in the model's part.",
        undated=ctx.fmt.count(found.undated_deals),
        deals=ctx.fmt.count(found.continuing_deals),
        previous=str(previous.run_id),
        run=str(run.run_id),
    )
