"""The stored forecast as the report reads it: the latest run, its monthly series, its quarter.

A run may hold every component of forecasting.md (`closed`, `open_pipeline`, `new_pipeline`,
`total`, with P10/P50/P90) or only some of them (the first stage-weighted engine stores
`open_pipeline` expected values); the report shows what the run has and says what it lacks.
Runs that chose their headline from the backtest also store `headline`: the chosen method's total
bookings with recalibrated bands (`total` stays the engine's own), and say why in
config["headline"].

A forecast or backtest step that was skipped or failed after the latest stored run leaves a row in
`run_steps`; the report shows its message instead of the older numbers (`step_problem`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from pipeline_analytics.report.data import Row, fetch, table_columns
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.report.i18n import Translator
from pipeline_analytics.sql_files import sql_statement

COMPONENTS = ("closed", "open_pipeline", "new_pipeline")


def method_name(method: str | None, t: Translator) -> str:
    """A forecast method as readers call it; an unknown method keeps its stored name."""
    names = {
        "engine": t("Engine"),
        "stage_weighted": t("Stage-weighted"),
        "crm_weighted": t("CRM-weighted pipeline"),
        "run_rate": t("Run rate"),
        "seasonal_naive": t("Seasonal naive"),
        "ets_bookings": t("ETS on bookings"),
        "combination": t("Median of the engine and the two best simple methods"),
    }
    return "—" if method is None else names.get(method, method)


ENGINE = "engine"


@dataclass(frozen=True)
class Headline:
    """Why the run's headline method leads (config["headline"], written by the forecast)."""

    method: str
    reason_code: str | None
    origins: int | None
    wape: dict[str, dict[int, float]]  # method -> horizon in months -> WAPE
    band_scale: float | None
    coverage_before: float | None
    coverage_after: float | None


@dataclass(frozen=True)
class ForecastRun:
    run_id: int
    as_of: datetime | None
    method: str | None
    simulations: int | None
    config: dict[str, Any]
    components: frozenset[str]
    created_at: datetime | None = None

    @property
    def headline_component(self) -> str:
        """The chosen method's `headline` when stored, else the engine's `total`, else the open
        pipeline (the first engine's only component)."""
        for component in ("headline", "total"):
            if component in self.components:
                return component
        return "open_pipeline"

    @property
    def headline(self) -> Headline | None:
        return read_headline(self.config.get("headline"), self.method)

    @property
    def engine_leads(self) -> bool:
        """False when the headline is another method's number (the engine's stays `total`)."""
        return self.headline_component != "headline" or self.method in (None, ENGINE)


def optional_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_headline(stored: Any, method: str | None) -> Headline | None:
    """config["headline"] as typed values; anything malformed reads as absent, not as an error."""
    if not isinstance(stored, dict):
        return None
    wape: dict[str, dict[int, float]] = {}
    for name, horizons in (stored.get("wape") or {}).items():
        if isinstance(horizons, dict):
            wape[str(name)] = {
                int(h): float(w)
                for h, w in horizons.items()
                if str(h).isdigit() and optional_float(w) is not None
            }
    origins = stored.get("origins")
    return Headline(
        method=str(stored.get("method") or method or ENGINE),
        reason_code=stored.get("reason_code"),
        origins=origins if isinstance(origins, int) else None,
        wape=wape,
        band_scale=optional_float(stored.get("band_scale")),
        coverage_before=optional_float(stored.get("coverage_before")),
        coverage_after=optional_float(stored.get("coverage_after")),
    )


def latest_run(con: duckdb.DuckDBPyConnection) -> ForecastRun | None:
    """The newest stored run that has bookings, or None when no forecast has run yet."""
    if not table_columns(con, "forecast_runs") or not table_columns(con, "forecast_bookings"):
        return None
    runs = fetch(con, sql_statement("forecast/latest_run"))
    if not runs:
        return None
    run = runs[0]
    try:
        config = json.loads(run["config"]) if run["config"] else {}
    except json.JSONDecodeError:
        config = {}
    return ForecastRun(
        run_id=run["run_id"],
        as_of=run["as_of"],
        method=run["method"],
        simulations=run["simulations"],
        config=config if isinstance(config, dict) else {},
        components=frozenset(run["components"]),
        created_at=run["created_at"],
    )


def monthly(con: duckdb.DuckDBPyConnection, run: ForecastRun, component: str) -> list[Row]:
    return fetch(
        con, sql_statement("forecast/run_bookings"), {"run": run.run_id, "component": component}
    )


def has_bands(months: list[Row]) -> bool:
    return bool(months) and all(
        m["p10"] is not None and m["p50"] is not None and m["p90"] is not None for m in months
    )


@dataclass(frozen=True)
class QuarterOutlook:
    """A (fiscal) quarter from as_of: booked so far plus the forecast for the rest."""

    quarter_start: date
    won_to_date: float
    previous_quarter_won: float
    values: dict[str, float | None]  # mean, and p10/p50/p90 when the run has quarter bands
    has_bands: bool
    # False when the forecast horizon ends before the quarter does (the rest is not in the sum).
    complete: bool = True

    @property
    def expected(self) -> float | None:
        """The quarter's central figure: P50 of the simulated totals, else the expected value."""
        return self.values.get("p50") if self.has_bands else self.values.get("mean")


def quarter_outlook(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, quarter_start: date, as_of: datetime
) -> QuarterOutlook | None:
    """Expected bookings of the (fiscal) quarter starting at `quarter_start`, the one holding
    as_of or a later one; None when the run forecasts none of its months.

    The engine stores the quarter's total in forecast_periods: what was booked in the quarter's
    months before as_of's month plus the simulated rest, with percentiles of the simulated quarter
    totals (of the headline method when the run chose one). A run without it (the first,
    stage-weighted engine) gives means only, which add up across months: the facts of the months
    before as_of's month (mart_kpis_monthly) plus its components, with as_of's own month from the
    facts when the run has no `closed` component."""
    if run.headline_component in ("headline", "total"):
        components, closed_in_run = [run.headline_component], True
    else:
        components = [c for c in COMPONENTS if c in run.components]
        closed_in_run = "closed" in run.components
    row = fetch(
        con,
        sql_statement("forecast/quarter_outlook"),
        {
            "quarter_start": quarter_start,
            "as_of": as_of,
            "run": run.run_id,
            "components": components,
        },
    )[0]
    simulated = quarter_totals(con, run, quarter_start)
    if simulated is not None:
        values = {k: simulated[k] for k in STATISTICS}
        return QuarterOutlook(
            quarter_start=quarter_start,
            won_to_date=row["won_to_date"],
            previous_quarter_won=row["previous_quarter_won"],
            values=values,
            has_bands=all(values[k] is not None for k in ("p10", "p50", "p90")),
            complete=bool(simulated["complete"]),
        )
    if not row["months_forecast"]:
        return None
    facts = row["won_before_as_of_month"] if closed_in_run else row["won_to_date"]
    return QuarterOutlook(
        quarter_start=quarter_start,
        won_to_date=row["won_to_date"],
        previous_quarter_won=row["previous_quarter_won"],
        values={"mean": facts + row["forecast_mean"]},
        has_bands=False,
        complete=row["months_forecast"] >= row["months_ahead"],
    )


STATISTICS = ("mean", "p10", "p50", "p90")
PERIOD_COLUMNS = ("run_id", "period", "period_start", "complete", "component", *STATISTICS)


def quarter_totals(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, quarter_start: date
) -> Row | None:
    """The run's simulated totals of the whole quarter for its headline, if it stored them."""
    if not set(PERIOD_COLUMNS) <= table_columns(con, "forecast_periods"):
        return None
    component = run.headline_component if run.headline_component == "headline" else "total"
    rows = fetch(
        con,
        sql_statement("forecast/quarter_total"),
        {"run": run.run_id, "quarter_start": quarter_start, "component": component},
    )
    return rows[0] if rows else None


# --- steps that did not produce a run -------------------------------------------------------------

STEP_COLUMNS = ("run_id", "step", "status", "message", "finished_at")


@dataclass(frozen=True)
class StepProblem:
    """The latest `run_steps` row of a step, when it was skipped or failed."""

    step: str
    status: str  # 'skipped' | 'failed'
    message: str
    finished_at: datetime | None


def step_problem(
    con: duckdb.DuckDBPyConnection, step: str, stored_at: datetime | None
) -> StepProblem | None:
    """Why the numbers of `step` are missing or stale: its latest recorded outcome when that was
    skipped or failed and came after the newest stored output (`stored_at`, None when there is
    none). Old warehouses have no run_steps table: then nothing is known and None is returned."""
    if not set(STEP_COLUMNS) <= table_columns(con, "run_steps"):
        return None
    rows = fetch(con, sql_statement("ops/latest_step_outcome"), {"step": step})
    if not rows or rows[0]["status"] not in ("skipped", "failed"):
        return None
    latest = rows[0]
    finished = latest["finished_at"]
    if stored_at is not None and finished is not None and finished <= stored_at:
        return None  # a later run stored numbers after this step gave up
    return StepProblem(step, latest["status"], latest["message"] or "", finished)


def latest_backtest_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the stored backtest was made (None without one, or without the column)."""
    if "created_at" not in table_columns(con, "forecast_backtest"):
        return None
    return fetch(con, "select max(created_at) as at from forecast_backtest")[0]["at"]


def forecast_problem(con: duckdb.DuckDBPyConnection, run: ForecastRun | None) -> StepProblem | None:
    """A skipped or failed forecast step newer than `run` (the latest stored run)."""
    return step_problem(con, "forecast", run.created_at if run else None)


CROSSCHECK_COLUMNS = ("run_id", "month", "method", "mean", "p50")


def crosschecks(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> list[Row]:
    """The naive methods' monthly bookings stored beside the run (none for older runs)."""
    if not set(CROSSCHECK_COLUMNS) <= table_columns(con, "forecast_crosschecks"):
        return []
    return fetch(con, sql_statement("forecast/run_crosschecks"), {"run": run.run_id})


def step_problem_text(problem: StepProblem, t: Translator) -> str:
    """One sentence for the reader; the step's own message is the log's line, as recorded."""
    message = problem.message.strip()
    # The step's line often starts by naming itself ("backtest skipped: it needs ..."); the
    # sentence around it already does.
    for prefix in (f"{problem.step} {problem.status}:", f"{problem.step}:"):
        if message.lower().startswith(prefix):
            message = message[len(prefix) :].strip()
    if message and message[-1] not in ".!?":
        message += "."
    texts = {
        ("forecast", "skipped"): t("The forecast was skipped in the latest run: {message}"),
        ("forecast", "failed"): t("The forecast failed in the latest run: {message}"),
        ("backtest", "skipped"): t("The backtest was skipped in the latest run: {message}"),
        ("backtest", "failed"): t("The backtest failed in the latest run: {message}"),
    }
    text = texts.get((problem.step, problem.status), "{message}")
    return text.format(message=message).strip()


# --- why the headline method leads ----------------------------------------------------------------


def headline_reason(run: ForecastRun, t: Translator) -> str:
    """One short sentence: which method the headline is and why (empty for runs that predate the
    choice, whose headline is the engine's by construction)."""
    headline = run.headline
    if headline is None:
        return ""
    method = method_name(headline.method, t)
    if headline.reason_code == "engine_best":
        return t("The engine leads: it forecast best in the backtest.")
    if headline.reason_code == "baseline_best":
        return t(
            "{method} leads: it forecast better than the engine in the backtest.", method=method
        )
    if headline.reason_code == "combination_best":
        return t(
            "{method} leads: it forecast better than the engine and each simple method alone in "
            "the backtest.",
            method=method,
        )
    if headline.reason_code == "too_few_origins" and headline.method == ENGINE:
        return t(
            "The engine leads by default: the backtest has too few month-ends to choose a method "
            "by its record."
        )
    if headline.reason_code == "no_backtest" and headline.method == ENGINE:
        return t(
            "The engine leads by default: there is no backtest yet to choose a method by its "
            "record."
        )
    if headline.reason_code == "too_few_origins":
        return t(
            "{method} leads by default: the backtest has too few month-ends to choose a method by "
            "its record.",
            method=method,
        )
    if headline.reason_code == "no_backtest":
        return t(
            "{method} leads by default: there is no backtest yet to choose a method by its record.",
            method=method,
        )
    return t("{method} leads.", method=method)


def headline_details(run: ForecastRun, t: Translator, fmt: Formatter) -> list[str]:
    """The record behind the choice: the backtest's size, the errors at the nearest horizon and
    the recalibration of the band; each sentence only when its numbers are stored."""
    headline = run.headline
    if headline is None:
        return []
    sentences = []
    if headline.origins:
        sentences.append(
            t(
                "The backtest forecast every method from {origins} past month-ends and compared "
                "the result with what was then booked.",
                origins=fmt.count(headline.origins),
            )
        )
    comparison = wape_comparison(headline, t, fmt)
    if comparison:
        sentences.append(comparison)
    scale = headline.band_scale
    if scale is not None and scale != 1:
        widened = scale > 1
        if headline.coverage_before is not None and headline.coverage_after is not None:
            sentences.append(
                t(
                    "The P10–P90 band is widened ×{scale} from the backtest's errors: it held the "
                    "actual bookings {before} of the time as simulated, {after} once widened."
                    if widened
                    else "The P10–P90 band is narrowed ×{scale} from the backtest's errors: it "
                    "held the actual bookings {before} of the time as simulated, {after} once "
                    "narrowed.",
                    scale=fmt.number(scale, 2),
                    before=fmt.percent(headline.coverage_before, 0),
                    after=fmt.percent(headline.coverage_after, 0),
                )
            )
        else:
            sentences.append(
                t(
                    "The P10–P90 band is scaled ×{scale} from the backtest's errors.",
                    scale=fmt.number(scale, 2),
                )
            )
    return sentences


def wape_comparison(headline: Headline, t: Translator, fmt: Formatter) -> str:
    """The leader's error against the engine's (or, when the engine leads, against the best
    other method) at the nearest horizon both were scored on."""
    leader = headline.wape.get(headline.method, {})
    if headline.method == ENGINE:
        others = {m: w for m, w in headline.wape.items() if m != ENGINE}
        for horizon in sorted(leader):
            scored = {m: w[horizon] for m, w in others.items() if horizon in w}
            if scored:
                rival = min(scored, key=lambda m: scored[m])
                return t(
                    "One month ahead, the typical error (WAPE) was {leader} for the engine and "
                    "{rival} for the best other method, {method}."
                    if horizon == 1
                    else "{months} months ahead, the typical error (WAPE) was {leader} for the "
                    "engine and {rival} for the best other method, {method}.",
                    months=fmt.count(horizon),
                    leader=fmt.percent(leader[horizon]),
                    rival=fmt.percent(scored[rival]),
                    method=method_name(rival, t),
                )
        return ""
    engine = headline.wape.get(ENGINE, {})
    for horizon in sorted(set(leader) & set(engine)):
        return t(
            "One month ahead, the typical error (WAPE) was {leader} for {method} and {engine} "
            "for the engine."
            if horizon == 1
            else "{months} months ahead, the typical error (WAPE) was {leader} for {method} and "
            "{engine} for the engine.",
            months=fmt.count(horizon),
            leader=fmt.percent(leader[horizon]),
            method=method_name(headline.method, t),
            engine=fmt.percent(engine[horizon]),
        )
    return ""


def cash_has_amounts(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> bool:
    """False when every month of the run's cash flow is zero or blank: no deal had an amount, so
    the zeros say nothing about cash (as opposed to a quiet quarter)."""
    row = fetch(con, sql_statement("forecast/run_cash_months_with_amounts"), {"run": run.run_id})
    return bool(row[0]["months_with_amounts"])


# --- how the open deals were forecast -------------------------------------------------------------

# The engine's models per open deal, best supported first (forecasting.md, "Open pipeline").
BASIS_ORDER = ("stage", "pooled", "oldest_age", "deal_age", "crm", "win_rate", "none")
STAGE_HISTORY_BASES = frozenset({"stage", "pooled", "oldest_age"})


def open_deals_by_basis(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> dict[str, int]:
    """Open deals per basis: the run's own count (config) when stored, else forecast_deals."""
    stored = run.config.get("open_deals_by_basis")
    if isinstance(stored, dict) and stored:
        counts = {str(b): int(n) for b, n in stored.items() if isinstance(n, int) and n > 0}
    elif "basis" in table_columns(con, "forecast_deals"):
        rows = fetch(con, sql_statement("forecast/run_deals_by_basis"), {"run": run.run_id})
        counts = {r["basis"]: r["deals"] for r in rows}
    else:
        return {}
    rank = {b: i for i, b in enumerate(BASIS_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: (rank.get(item[0], 99), item[0])))


def has_stage_history(counts: dict[str, int]) -> bool:
    return any(counts.get(b) for b in STAGE_HISTORY_BASES)


# --- runs made before the headline was chosen -----------------------------------------------------

ACCURACY_NEEDS = {"method", "horizon_months", "wape"}


def engine_outscored(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> str | None:
    """For a run that headlines the engine without having chosen it (made before the backtest
    picked the headline): the method that beat the engine's WAPE at every horizon of the stored
    backtest, else None. The report then warns that the number is not backed."""
    if run.headline is not None or run.method not in (None, ENGINE):
        return None
    if not table_columns(con, "forecast_accuracy") >= ACCURACY_NEEDS:
        return None
    rows = fetch(con, sql_statement("forecast/engine_outscored"))
    row = rows[0]
    if not row["engine_scored"] or row["engine_best"]:
        return None
    return row["nearest_best"]


def unbacked_engine_text(method: str, t: Translator) -> str:
    return t(
        "The backtest does not back this number: {method} forecast better than the engine at "
        "every horizon. The next forecast run will headline the method that forecast best.",
        method=method_name(method, t),
    )
