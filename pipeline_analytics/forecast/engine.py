"""The forecast engine: bookings and cash as of a moment, with bands from a joint simulation.

total = closed + open_pipeline + new_pipeline (docs/forecasting.md):
- closed: won in month 1 before as_of, a fact;
- open_pipeline: the deals open at as_of, each won (or not) in a month drawn from what became of
  earlier deals in its stage at its age (outcomes.py), simulated jointly (simulation.py);
- new_pipeline: deals created after as_of (new_pipeline.py).
Everything is read from the SQL models as they stood at as_of (asof.py), so nothing recorded
after as_of can change the forecast, and the same seed gives the same numbers.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipeline_analytics.config import CashflowSettings, Scenario, Target
from pipeline_analytics.errors import InputError, StepSkipped
from pipeline_analytics.forecast import baselines, scenarios
from pipeline_analytics.forecast.asof import models_as_of
from pipeline_analytics.forecast.calendar import (
    MonthGrid,
    add_months,
    month_grid,
    month_start,
)
from pipeline_analytics.forecast.cashflow import CashForecast, CashGroups, cash_forecast
from pipeline_analytics.forecast.new_pipeline import NewPipeline, WonPool, forecast_new_pipeline
from pipeline_analytics.forecast.outcomes import (
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    OutcomeHistory,
    StintTable,
    as_floats,
    deal_probability,
    outcome_model,
    won_incidence,
)
from pipeline_analytics.forecast.simulation import OpenDeals, simulate_open_deals
from pipeline_analytics.forecast.targets import SegmentPaths, TargetInputs, read_target_inputs
from pipeline_analytics.forecast.timeseries import forecast_series
from pipeline_analytics.sql_files import sql_statement

METHOD = "engine"
DAYS_PER_MONTH = 365.25 / 12
CROSSCHECK_SIMULATIONS = 2_000
BATCH_ROWS = 262_144  # rows of the stints read at a time
_READING = threading.Lock()  # held while a forecast rebuilds and reads its inputs


@dataclass(frozen=True)
class EngineSettings:
    horizon_months: int = 12
    simulations: int = 10_000
    seed: int | None = None
    cashflow: CashflowSettings = field(default_factory=CashflowSettings)
    crosschecks: bool = True
    impute_missing_amounts: bool = True
    # A what-if ([scenarios.NAME]) applied inside the simulation; None for the base forecast.
    scenario: Scenario | None = None
    # Bookings targets (forecast_targets): their owners and pipelines add a simulation dimension.
    targets: tuple[Target, ...] = ()

    def resolved_seed(self) -> int:
        """The seed to use; a fresh one (stored with the run) when none is configured."""
        return self.seed if self.seed is not None else secrets.randbelow(2**62)


@dataclass(frozen=True)
class Inputs:
    """Everything the engine reads, as of as_of."""

    as_of: datetime
    lookback_days: int
    fiscal_year_start_month: int
    open_deals: pl.DataFrame
    stints: StintTable
    # int_forecast_deal_ages: every deal created by as_of at a known time, its age and outcome
    deal_ages: pl.DataFrame
    won_deals: int  # closed by as_of, at any time known or not
    lost_deals: int
    closes_per_day: float  # deals closed by as_of a day, since the first known close
    monthly: pl.DataFrame  # month, created_pipeline_base, won_amount_base, is_complete
    won_pool: pl.DataFrame  # amount_base, deal_type of deals won in the lookback window
    already_won: pl.DataFrame  # deal_type, month, amount: won in the months before as_of
    stage_days_to_close: pl.DataFrame  # pipeline, stage, median_days
    # The median rep's pipeline created per month in the lookback window (added reps ramp to it).
    median_rep_monthly_created: float | None = None
    targets: TargetInputs | None = None  # when targets are configured

    def outcome_history(self, horizon: int) -> OutcomeHistory:
        """What the open deals' outcomes are learnt from (outcomes.outcome_model)."""
        closed = self.won_deals + self.lost_deals
        win_rate = self.won_deals / closed if closed else None
        # Without a pace, the whole horizon (months of about 30.4 days).
        pace = self.closes_per_day
        turnover = self.open_deals.height / pace if pace > 0 else horizon * DAYS_PER_MONTH
        return OutcomeHistory(
            self.stints,
            self.deal_ages,
            win_rate,
            max(turnover, 1.0),
            losses_known=self.lost_deals > 0 or self.won_deals == 0,
        )


@dataclass(frozen=True)
class EngineForecast:
    as_of: datetime
    seed: int
    simulations: int
    grid: MonthGrid
    fiscal_year_start_month: int
    closed: float  # won in month 1 before as_of
    booked_before: dict[date, float]  # complete months before as_of: month -> won amount
    open_pipeline: np.ndarray  # (simulations, H)
    new_pipeline: np.ndarray  # (simulations, H)
    deals: pl.DataFrame  # forecast_deals columns
    cash: CashForecast
    crosschecks: dict[str, baselines.Bookings]
    details: dict[str, Any]
    # Per open deal (rows of `deals`): P(won by the end of each forecast month), and the CRM's
    # expected close date known at as_of; forecast_deal_periods is made of them (deal_periods.py).
    win_by_month: np.ndarray  # (deals, H)
    expected_close_dates: pl.Series
    segments: SegmentPaths | None = None  # open pipeline per target segment, when targets exist

    @property
    def total(self) -> np.ndarray:
        total = self.open_pipeline + self.new_pipeline
        total[:, 0] += self.closed
        return total


def forecast(
    con: duckdb.DuckDBPyConnection, as_of: datetime, settings: EngineSettings
) -> EngineForecast:
    """Forecast from as_of with the data known then; nothing is stored."""
    if settings.horizon_months < 1:
        raise InputError(f"horizon_months must be at least 1, got {settings.horizon_months}")
    grid = month_grid(as_of, settings.horizon_months)
    groups = CashGroups.from_settings(settings.cashflow)
    # One forecast at a time rebuilds and reads its inputs (the backtest forecasts two origins at
    # once): that is when a forecast holds most memory, and DuckDB already keeps both cores busy
    # with it, while the other origin's estimation and simulation run beside it.
    with _READING, models_as_of(con, as_of):
        inputs = load_inputs(con, as_of, grid, groups.longest_tail())
        if settings.targets:
            inputs = replace(
                inputs,
                targets=read_target_inputs(
                    con, settings.targets, inputs.fiscal_year_start_month, inputs.open_deals
                ),
            )
    check_forecastable(inputs)
    return compute(inputs, grid, groups, settings)


def check_forecastable(inputs: Inputs) -> None:
    """StepSkipped, saying why and what would help, when the data cannot support a forecast."""
    when = f"{inputs.as_of:%Y-%m-%d}"
    if inputs.won_deals + inputs.lost_deals == 0:
        raise StepSkipped(
            f"forecast skipped: no deal was won or lost by {when}, so there is no win rate or "
            "time to close to learn from; include closed deals in the export"
        )
    if inputs.closes_per_day == 0:
        # A win/loss extract without dates: a win rate, but nothing says when deals close.
        raise StepSkipped(
            f"forecast skipped: none of the deals closed by {when} has a close date, so nothing "
            "tells when deals close; map the export's close-date column ([sources.columns] "
            "closed_at)"
        )
    amounts = inputs.open_deals["amount_base"].drop_nulls().len() + inputs.won_pool.height
    if amounts == 0 and inputs.monthly["won_amount_base"].sum() == 0:
        raise StepSkipped(
            f"forecast skipped: no deal known by {when} has an amount, so bookings cannot be "
            "forecast; map the export's amount column ([sources.columns] amount)"
        )


def compute(
    inputs: Inputs, grid: MonthGrid, groups: CashGroups, settings: EngineSettings
) -> EngineForecast:
    seed = settings.resolved_seed()
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(4)]
    simulations = settings.simulations
    scenario = settings.scenario or Scenario("base")
    kept, unknown_excluded = scenarios.without_excluded(inputs.open_deals, scenario)
    targets = inputs.targets
    if targets is not None:  # each kept deal keeps its target segment
        targets = replace(targets, deal_segment=targets.deal_segment[kept])
    inputs = replace(inputs, open_deals=inputs.open_deals.filter(kept), targets=targets)
    deals = inputs.open_deals
    crm_month = _crm_month(inputs, grid)
    model = outcome_model(
        deals,
        inputs.outcome_history(grid.horizon),
        scenarios.stretched_month_ends(grid.end_days, scenario),
        _expected_month(inputs, grid),
    )
    model = replace(model, cumulative=scenarios.scaled_win_curves(model.cumulative, scenario))
    # Each deal's wins are summed per cash-flow group and target segment (one without targets).
    segments = inputs.targets.segments.height if inputs.targets else 1
    segment = inputs.targets.deal_segment if inputs.targets else None
    group = groups.of(deals["deal_type"].to_list())
    known = as_floats(deals["amount_base"])
    imputed = np.isnan(known) & settings.impute_missing_amounts
    amount = np.where(imputed, as_floats(deals["imputed_amount_base"]), known)
    imputed &= ~np.isnan(amount)
    amount = amount * scenario.amount_factor
    by_segment = simulate_open_deals(
        OpenDeals(amount, model.deal_class, group, segment),
        model.cumulative,
        len(groups.names),
        simulations,
        seeds[0],
        n_segments=segments,
    ).reshape(simulations, len(groups.names), segments, grid.horizon)
    # Wins are whole cents: the segments' sum is rounded back to them, so a run with targets has
    # the very numbers of one without (summing dollar amounts again would add float rounding).
    open_pipeline = np.round(by_segment.sum(axis=2) * 100.0) / 100.0
    added_created = scenarios.added_created_pipeline(
        scenario, inputs.median_rep_monthly_created, grid.horizon
    )
    new = _new_pipeline(inputs, grid, groups, simulations, seeds[1], scenario, added_created)
    new_bookings = new.bookings * scenario.amount_factor
    closed = _closed_before_as_of(inputs, grid)
    already_won = _already_won(inputs, grid, groups)
    cash = cash_forecast(groups, open_pipeline + new_bookings, already_won)
    months = _complete_months(inputs)
    crosschecks = (
        _crosschecks(inputs, grid, months, closed, known, crm_month, seeds[2:])
        if settings.crosschecks
        else {}
    )
    missing_amount = int(np.isnan(amount).sum())
    basis = Counter(model.basis)
    return EngineForecast(
        as_of=inputs.as_of,
        seed=seed,
        simulations=simulations,
        grid=grid,
        fiscal_year_start_month=inputs.fiscal_year_start_month,
        closed=closed,
        booked_before=dict(zip(months["month"], months["won_amount_base"], strict=True)),
        open_pipeline=open_pipeline.sum(axis=1),
        new_pipeline=new_bookings.sum(axis=1),
        deals=_deal_rows(
            deals, model.cumulative[model.deal_class], model.basis, amount, imputed, grid
        ),
        win_by_month=model.cumulative[model.deal_class],
        expected_close_dates=deals["expected_close_date"],
        cash=cash,
        crosschecks=crosschecks,
        details={
            "open_deals": deals.height,
            "open_deals_by_basis": dict(basis),
            "open_deals_amount_imputed": int(imputed.sum()),
            "open_deals_without_amount": missing_amount,
            "open_pipeline_unforecastable": _unforecastable(basis, deals.height),
            "open_pipeline_caveat": _caveat(inputs, basis),
            "closed_deals": {"won": inputs.won_deals, "lost": inputs.lost_deals},
            "created_pipeline_model": f"{new.created.method}: {new.created.detail}",
            "create_to_won_share_within_horizon": float(new.share_booked[0].sum()),
            "cash_groups": [n or "default" for n in groups.names],
            **_scenario_details(settings.scenario, unknown_excluded, added_created, grid),
        },
        segments=SegmentPaths(inputs.targets, by_segment.sum(axis=1)) if inputs.targets else None,
    )


def load_inputs(
    con: duckdb.DuckDBPyConnection, as_of: datetime, grid: MonthGrid, cash_months: int
) -> Inputs:
    """Read the engine's inputs from the models (built as of `as_of`, see asof.models_as_of)."""
    params = {"as_of": as_of}
    build = con.sql("select * from build_params").pl()
    fiscal_start = (
        build["fiscal_year_start_month"][0] if "fiscal_year_start_month" in build.columns else None
    )

    def relation(name: str, extra: dict[str, object] | None = None) -> duckdb.DuckDBPyRelation:
        sql = sql_statement(f"forecast/{name}")
        given = {**params, **(extra or {})}
        return con.sql(sql, params={k: v for k, v in given.items() if f"${k}" in sql})

    def frame(name: str, extra: dict[str, object] | None = None) -> pl.DataFrame:
        return relation(name, extra).pl()

    def batches(name: str) -> Iterator[pl.DataFrame]:
        for batch in relation(name).to_arrow_reader(BATCH_ROWS):
            yield pl.from_arrow(batch)

    closed = frame("closed_deal_counts").row(0, named=True)
    monthly = con.sql("select * from int_forecast_monthly order by month").pl()
    return Inputs(
        as_of=as_of,
        lookback_days=int(build["lookback_days"][0]),
        fiscal_year_start_month=int(fiscal_start or 1),
        open_deals=frame("open_deals"),
        # Read a batch at a time into what the estimator keeps: never a frame of 3M stints.
        stints=StintTable.from_batches(batches("stints")),
        monthly=monthly,
        deal_ages=frame("deal_ages"),
        won_deals=closed["won"],
        lost_deals=closed["lost"],
        closes_per_day=float(closed["per_day"] or 0.0),
        won_pool=frame("won_pool"),
        already_won=frame("already_won", {"since": add_months(grid.starts[0], -cash_months)}),
        stage_days_to_close=frame("stage_days_to_close"),
        median_rep_monthly_created=frame("scenario_rep_creation")["median_monthly_created_base"][0],
    )


def _complete_months(inputs: Inputs) -> pl.DataFrame:
    return inputs.monthly.filter(pl.col("is_complete"))


def _closed_before_as_of(inputs: Inputs, grid: MonthGrid) -> float:
    row = inputs.monthly.filter(pl.col("month") == grid.starts[0])
    return float(row["won_amount_base"][0]) if row.height else 0.0


def _already_won(inputs: Inputs, grid: MonthGrid, groups: CashGroups) -> np.ndarray:
    """(groups, P): won before as_of, by booking month, the last column being month 1."""
    past = groups.longest_tail() + 1
    table = np.zeros((len(groups.names), past))
    frame = inputs.already_won
    if frame.height:
        column = past - 1 + np.array([month_index(grid, m) for m in frame["month"]])
        keep = column >= 0
        np.add.at(
            table,
            (groups.of(frame["deal_type"].to_list())[keep], column[keep]),
            frame["amount"].to_numpy()[keep],
        )
    return table


def _expected_month(inputs: Inputs, grid: MonthGrid) -> np.ndarray:
    """Forecast month (0-based) of each open deal's expected close date when it is still ahead
    (the horizon when it is later); -1 when it has passed or is unknown."""
    first = grid.starts[0]
    close = pl.col("expected_close_date")
    months = (
        inputs.open_deals.select(
            pl.when(close >= inputs.as_of.date())
            .then((close.dt.year() - first.year) * 12 + close.dt.month() - first.month)
            .otherwise(-1)
            .clip(upper_bound=grid.horizon)
        )
        .to_series()
        .to_numpy()
        .astype(np.intp)
    )
    return months


def _crm_month(inputs: Inputs, grid: MonthGrid) -> np.ndarray:
    """Forecast month (0-based) of each open deal's expected close; -1 if unknown or beyond.

    The expected close date known at as_of, else the stage entry plus the stage's median time to
    close of won deals; an overdue date counts as month 1.
    """
    first = grid.starts[0]
    stand_in = pl.lit(inputs.as_of) + pl.duration(
        seconds=(pl.col("median_days") - pl.col("stage_age_days")) * 86400.0
    )
    close = pl.coalesce(pl.col("expected_close_date"), stand_in.dt.date())
    months = (
        inputs.open_deals.join(
            inputs.stage_days_to_close, on=["pipeline", "stage"], how="left", maintain_order="left"
        )
        .select(
            ((close.dt.year() - first.year) * 12 + close.dt.month() - first.month)
            .clip(lower_bound=0)
            .fill_null(-1)
        )
        .to_series()
        .to_numpy()
        .astype(np.intp)
    )
    return np.where(months < grid.horizon, months, -1)


def _new_pipeline(
    inputs: Inputs,
    grid: MonthGrid,
    groups: CashGroups,
    simulations: int,
    seed: int,
    scenario: Scenario,
    added_created: np.ndarray,
) -> NewPipeline:
    months = _complete_months(inputs)
    # A young CRM's first months hold only the deals created since it was set up (older deals
    # are missing): the series starts where it reaches half its median month.
    created = baselines.trim_ramp_up(months["created_pipeline_base"].to_numpy())
    cohort = inputs.deal_ages.filter(pl.col("amount_base") > 0)
    outcome = (
        cohort["outcome"]
        .replace_strict({"open": OUTCOME_OPEN, "won": OUTCOME_WON, "lost": OUTCOME_LOST})
        .to_numpy()
    )
    days = cohort.select(pl.coalesce("days_to_close", "age_at_as_of")).to_series().to_numpy()
    won_by = scenarios.adjusted_conversion(
        won_incidence(days, outcome, as_floats(cohort["amount_base"])), scenario
    )
    pool = WonPool(
        inputs.won_pool["amount_base"].to_numpy().astype(float),
        groups.of(inputs.won_pool["deal_type"].to_list()),
    )
    return forecast_new_pipeline(
        created,
        months["month"][months.height - created.size] if created.size else grid.starts[0],
        grid,
        won_by,
        pool,
        len(groups.names),
        simulations,
        seed,
        created_factor=scenario.new_pipeline_factor,
        added_created=added_created,
    )


def _scenario_details(
    scenario: Scenario | None, unknown_excluded: list[str], added: np.ndarray, grid: MonthGrid
) -> dict[str, Any]:
    """What a scenario run changed, stored in the run's config; nothing for the base run."""
    if scenario is None:
        return {}
    return {
        "scenario": {
            **asdict(scenario),
            "excluded_deals_not_open": unknown_excluded,
            # Month 1 counts from as_of on, as in the simulation.
            "added_created_pipeline": float(
                added.sum() - added[0] * (1 - grid.first_month_remaining)
            ),
        }
    }


def _unforecastable(basis: Counter, open_deals: int) -> str | None:
    """Why the open pipeline adds nothing, when no open deal could be forecast."""
    if open_deals and basis.get("none", 0) == open_deals:
        return "no deal was won or lost yet, so no open deal has a win rate to go on"
    return None


def _caveat(inputs: Inputs, basis: Counter) -> str | None:
    """Why the open pipeline may be overstated, when the export shows no loss at all."""
    from_history = sum(n for b, n in basis.items() if b not in ("crm", "none"))
    if inputs.lost_deals or not inputs.won_deals or not from_history:
        return None
    return (
        f"the export has {inputs.won_deals} won deals and no lost one, so the win chances of the "
        f"{from_history} open deals forecast from history count no losses; export the "
        "closed-lost deals too, or set [pipeline] probabilities"
    )


def _crosschecks(
    inputs: Inputs,
    grid: MonthGrid,
    history: pl.DataFrame,
    closed: float,
    amount: np.ndarray,
    crm_month: np.ndarray,
    seeds: list[int],
) -> dict[str, baselines.Bookings]:
    bookings = baselines.trim_ramp_up(history["won_amount_base"].to_numpy())
    simulations = CROSSCHECK_SIMULATIONS
    checks: dict[str, baselines.Bookings] = {}
    probability = deal_probability(inputs.open_deals)
    timed = crm_month >= 0
    # Without any open deal carrying both a probability and a month, the method has nothing to
    # say (e.g. at a past moment of an export without history): left out rather than scored as 0.
    if (timed & (probability > 0)).any() or not amount.size:
        months = np.arange(grid.horizon)
        classes, deal_class = np.unique(
            np.c_[np.where(timed, probability, 0.0), np.where(timed, crm_month, grid.horizon)],
            axis=0,
            return_inverse=True,
        )
        cumulative = np.where(months[None, :] >= classes[:, 1:2], classes[:, 0:1], 0.0)
        crm = simulate_open_deals(
            OpenDeals(amount, deal_class.ravel(), np.zeros(amount.size, dtype=np.intp)),
            cumulative,
            1,
            simulations,
            seeds[0],
        )[:, 0, :]
        crm[:, 0] += closed
        checks["crm_weighted"] = baselines.from_paths("crm_weighted", crm)
    for method in ("run_rate", "seasonal_naive"):
        found = baselines.naive(method, bookings, grid.horizon, grid.first_month_remaining, closed)
        if found is not None:
            checks[method] = found
    if bookings.size:
        first = history["month"][history.height - bookings.size]
        ets = forecast_series(
            bookings, first, grid.horizon, simulations, seeds[1], with_theta=False
        )
        paths = ets.paths.copy()
        paths[:, 0] = paths[:, 0] * grid.first_month_remaining + closed
        checks["ets_bookings"] = baselines.from_paths("ets_bookings", paths)
    return checks


def _deal_rows(
    deals: pl.DataFrame,
    cumulative: np.ndarray,
    basis: list[str],
    amount: np.ndarray,
    imputed: np.ndarray,
    grid: MonthGrid,
) -> pl.DataFrame:
    """forecast_deals: P(won within the horizon), the month by which half of it is reached.

    amount_base is the amount the forecast used: the deal's own, or the imputed one
    (amount_imputed)."""
    win = cumulative[:, -1] if cumulative.size else np.zeros(deals.height)
    median_month = (cumulative >= 0.5 * win[:, None]).argmax(axis=1)
    starts = np.array(grid.starts, dtype="datetime64[D]")
    return deals.select(
        "source",
        "deal_id",
        "stage",
        pl.col("stage_age_days"),
        "deal_type",
    ).with_columns(
        amount_base=pl.Series(amount, dtype=pl.Float64, nan_to_null=True),
        amount_imputed=pl.Series(imputed, dtype=pl.Boolean),
        win_probability=pl.Series(win, dtype=pl.Float64),
        expected_close_month=pl.Series(
            np.where(win > 0, starts[median_month], np.datetime64("NaT")), dtype=pl.Date
        ),
        expected_value_base=pl.Series(amount * win, dtype=pl.Float64, nan_to_null=True),
        basis=pl.Series(basis, dtype=pl.String),
    )


def month_index(grid: MonthGrid, moment: datetime | date) -> int:
    """0-based forecast month of a date (negative before month 1)."""
    first, month = grid.starts[0], month_start(moment)
    return (month.year - first.year) * 12 + month.month - first.month
