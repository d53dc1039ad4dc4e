"""Stage-weighted forecast: expected bookings per month from the open pipeline.

An open deal's expected bookings in month m = amount_base x win probability x P(it closes in m).
The sum over open deals is stored as component `open_pipeline` of forecast_bookings; this method
gives an expected value only, so p10/p50/p90 stay NULL.

Win probability, the first of these that is known:
1. win_rate_from_stage of the deal's current stage (mart_stage_conversion);
2. the pipeline-wide win rate, i.e. win_rate_from_stage of the pipeline's first open stage, which
   every deal reached (for a stage without resolved deals, or not among the configured stages);
3. the deal's CRM probability (deals.probability);
4. 0, with a warning giving the number of deals.

Timing: the days from first entering the stage to close of the stage's won deals
(int_stage_to_close), conditioned on the deal's age in its current stint, a = as_of - entered_at:
only durations longer than a are possible any more, and the deal closes (duration - a) days after
as_of, each such duration equally likely. When fewer than MIN_CONDITIONAL_SAMPLES durations are
longer than a, or the age is unknown, the deal takes the stage's whole distribution starting at
as_of instead (logged). Deals in a stage without won history have no timing and add nothing to any
month (warning).

Months: month 1 is the calendar month containing as_of -- only its part from as_of on, since what
closed before as_of is a fact, not a forecast -- and month k the (k-1)-th calendar month after it.
Probability of closing after month `horizon_months` lies outside the forecast.

Deals without amount_base add 0 to every month and get a NULL expected_value_base (logged).
Win rates and durations come from the last build; an as_of other than the build's moves the ages and
the month grid but does not rewind the pipeline to that date (logged).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import numpy as np
import polars as pl

from pipeline_analytics.errors import InputError
from pipeline_analytics.warehouse import table_exists

log = logging.getLogger(__name__)

METHOD = "stage_weighted"
COMPONENT = "open_pipeline"
MIN_CONDITIONAL_SAMPLES = 5

# One row per open deal: its win probability with the fallback that gave it, and its age in the
# current stint (NULL when the entry time is unknown; an entry after as_of counts as age 0).
OPEN_DEALS_SQL = """
with current_stint as (
    select source, deal_id, stage, max(entered_at) as entered_at
    from deal_stage_events
    where exited_at is null
    group by source, deal_id, stage
),
pipeline_win_rate as (
    select pipeline, win_rate_from_stage
    from mart_stage_conversion
    qualify row_number() over (partition by pipeline order by stage_order) = 1
)
select
    d.source,
    d.deal_id,
    d.pipeline,
    d.stage,
    d.amount_base,
    coalesce(sc.win_rate_from_stage, pw.win_rate_from_stage, d.probability, 0.0)
        as win_probability,
    case
        when sc.win_rate_from_stage is not null then 'stage'
        when pw.win_rate_from_stage is not null then 'pipeline'
        when d.probability is not null then 'crm'
        else 'none'
    end as win_probability_basis,
    case
        when cs.entered_at is not null
            then greatest(0.0, (epoch($as_of) - epoch(cs.entered_at)) / 86400.0)
    end as age_days
from deals as d
left join current_stint as cs
    on d.source = cs.source and d.deal_id = cs.deal_id and d.stage = cs.stage
left join mart_stage_conversion as sc
    on d.pipeline = sc.pipeline and d.stage = sc.stage
left join pipeline_win_rate as pw
    on d.pipeline = pw.pipeline
where d.status = 'open'
order by d.source, d.deal_id
"""

STAGE_DURATIONS_SQL = """
select pipeline, stage, list(days_to_close order by days_to_close) as days_to_close
from int_stage_to_close
group by pipeline, stage
"""


@dataclass(frozen=True)
class MonthGrid:
    """The forecast months: their first days, and where each ends in days after as_of."""

    starts: list[date]
    ends_after_as_of: np.ndarray


@dataclass(frozen=True)
class StageWeightedForecast:
    as_of: datetime
    months: MonthGrid
    bookings_mean: np.ndarray
    deals: pl.DataFrame


def run_forecast(
    con: duckdb.DuckDBPyConnection, *, horizon_months: int = 6, as_of: datetime | None = None
) -> int:
    """Forecast open-pipeline bookings for horizon_months months from as_of, store it as a new run.

    as_of defaults to build_params.as_of (naive datetimes are UTC). Returns the new run_id.
    """
    if horizon_months < 1:
        raise InputError(f"horizon_months must be at least 1, got {horizon_months}")
    build_as_of = _build_as_of(con)
    as_of = build_as_of if as_of is None else _as_utc(as_of)
    if as_of != build_as_of:
        log.warning(
            "forecast as_of %s differs from the build's as_of %s: rates and deals are as built",
            as_of,
            build_as_of,
        )
    forecast = _forecast(con, as_of, horizon_months)
    run_id = _store(con, forecast)
    log.info(
        "forecast run %d (%s): %.2f expected open-pipeline bookings over %d months",
        run_id,
        METHOD,
        float(forecast.bookings_mean.sum()),
        horizon_months,
    )
    return run_id


def _build_as_of(con: duckdb.DuckDBPyConnection) -> datetime:
    missing = [
        t for t in ("mart_stage_conversion", "int_stage_to_close") if not table_exists(con, t)
    ]
    rows = con.execute("select as_of from build_params").fetchall()
    if missing or not rows:
        raise InputError(
            "the warehouse has not been built yet; run `pipeline-analytics build` first"
        )
    return rows[0][0]


def _as_utc(moment: datetime) -> datetime:
    """Warehouse timestamps are naive UTC."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _month_grid(as_of: datetime, horizon_months: int) -> MonthGrid:
    """Month 1 contains as_of; month k ends at the first day of calendar month (as_of's + k)."""
    first = as_of.year * 12 + as_of.month - 1
    starts = [datetime(m // 12, m % 12 + 1, 1) for m in range(first, first + horizon_months + 1)]
    ends = np.array([(s - as_of).total_seconds() / 86400.0 for s in starts[1:]])
    return MonthGrid([s.date() for s in starts[:-1]], ends)


def _forecast(
    con: duckdb.DuckDBPyConnection, as_of: datetime, horizon_months: int
) -> StageWeightedForecast:
    months = _month_grid(as_of, horizon_months)
    deals = con.sql(OPEN_DEALS_SQL, params={"as_of": as_of}).pl()
    durations = {
        (pipeline, stage): np.asarray(days, dtype=float)
        for pipeline, stage, days in con.execute(STAGE_DURATIONS_SQL).fetchall()
    }
    close_probability = _close_month_probabilities(deals, durations, months)
    _log_win_probability_fallbacks(deals)

    amount = deals["amount_base"].to_numpy(allow_copy=True).astype(float)
    has_amount = ~np.isnan(amount)
    if (~has_amount).any():
        log.info(
            "open deals without amount_base, adding 0 to the forecast: %d", (~has_amount).sum()
        )
    win_probability = deals["win_probability"].to_numpy().astype(float)
    weight = np.where(has_amount, amount, 0.0) * win_probability
    within_horizon = close_probability.sum(axis=1)
    # argmax: the earliest of equally likely months
    likeliest_month = np.array(months.starts, dtype="datetime64[D]")[
        close_probability.argmax(axis=1)
    ]
    deal_rows = deals.select("source", "deal_id", "win_probability").with_columns(
        expected_close_month=pl.Series(
            np.where(within_horizon > 0, likeliest_month, np.datetime64("NaT"))
        ),
        expected_value_base=pl.Series(
            np.where(has_amount, weight * within_horizon, np.nan), nan_to_null=True
        ),
    )
    return StageWeightedForecast(as_of, months, weight @ close_probability, deal_rows)


def _close_month_probabilities(
    deals: pl.DataFrame, durations: dict[tuple[str, str], np.ndarray], months: MonthGrid
) -> np.ndarray:
    """P(close in month k) for every open deal (rows) and forecast month (columns)."""
    ages = deals["age_days"].to_numpy(allow_copy=True).astype(float)
    probability = np.zeros((deals.height, len(months.starts)))
    unconditional = 0
    no_history = 0
    stage_groups = deals.with_row_index("row").group_by("pipeline", "stage").agg("row")
    for pipeline, stage, rows in stage_groups.iter_rows():
        rows = np.asarray(rows, dtype=np.int64)
        stage_durations = durations.get((pipeline, stage))
        if stage_durations is None:
            no_history += rows.size
            continue
        probability[rows], conditioned = _spread_over_months(
            stage_durations, ages[rows], months.ends_after_as_of
        )
        unconditional += int((~conditioned).sum())
    if unconditional:
        log.info(
            "open deals timed by their stage's whole time-to-close from as_of, as fewer than %d "
            "won deals of the stage took longer than their age in it (or the age is unknown): %d",
            MIN_CONDITIONAL_SAMPLES,
            unconditional,
        )
    if no_history:
        log.warning(
            "open deals in stages without won deals of known duration, so without close timing "
            "and adding nothing to the forecast: %d",
            no_history,
        )
    return probability


def _spread_over_months(
    durations: np.ndarray, ages: np.ndarray, month_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Close-month probabilities of one stage's deals, and which deals were conditioned on age.

    durations: the stage's days-to-close, sorted. A deal conditioned on age a closes d - a days
    after as_of for each duration d > a; otherwise d days after as_of for every d. Month k holds
    the remaining times in [month_ends[k-1], month_ends[k]) (month 1 from 0).
    """
    known = ~np.isnan(ages)
    longer_than_age = durations.size - np.searchsorted(
        durations, np.where(known, ages, 0.0), "right"
    )
    conditioned = known & (longer_than_age >= MIN_CONDITIONAL_SAMPLES)
    shift = np.where(conditioned, ages, 0.0)
    before_month_1 = np.where(conditioned, durations.size - longer_than_age, 0)
    possible = np.where(conditioned, longer_than_age, durations.size)
    by_month_end = np.searchsorted(durations, shift[:, None] + month_ends[None, :], "left")
    per_month = np.diff(np.column_stack([before_month_1, by_month_end]), axis=1)
    return per_month / possible[:, None], conditioned


def _log_win_probability_fallbacks(deals: pl.DataFrame) -> None:
    basis = deals["win_probability_basis"]
    for name, meaning in (
        ("pipeline", "the pipeline-wide win rate (first stage)"),
        ("crm", "their CRM probability"),
    ):
        if count := (basis == name).sum():
            log.info("open deals without a win rate for their stage, given %s: %d", meaning, count)
    if count := (basis == "none").sum():
        log.warning(
            "open deals without stage or pipeline win rate or CRM probability, given 0: %d", count
        )


def _store(con: duckdb.DuckDBPyConnection, forecast: StageWeightedForecast) -> int:
    """Write the run, its monthly bookings and its per-deal rows in one transaction."""
    config = {
        "horizon_months": len(forecast.months.starts),
        "first_month": "calendar month containing as_of",
        "min_conditional_samples": MIN_CONDITIONAL_SAMPLES,
        "win_probability_fallbacks": ["stage", "pipeline_first_stage", "crm_probability", "zero"],
    }
    bookings = pl.DataFrame({"month": forecast.months.starts, "mean": forecast.bookings_mean})
    con.register("new_forecast_bookings", bookings)
    con.register("new_forecast_deals", forecast.deals)
    con.execute("begin transaction")
    try:
        run_id = con.execute("select coalesce(max(run_id), 0) + 1 from forecast_runs").fetchall()
        run_id = run_id[0][0]
        con.execute(
            "insert into forecast_runs values (?, ?, ?, ?, 0, null, ?, ?)",
            [
                run_id,
                forecast.as_of,
                datetime.now(UTC).replace(tzinfo=None),
                len(forecast.months.starts),
                METHOD,
                json.dumps(config),
            ],
        )
        con.execute(
            "insert into forecast_bookings select ?, month, ?, mean, null, null, null"
            " from new_forecast_bookings",
            [run_id, COMPONENT],
        )
        con.execute(
            "insert into forecast_deals select ?, source, deal_id, win_probability,"
            " expected_close_month, expected_value_base from new_forecast_deals",
            [run_id],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("new_forecast_bookings")
        con.unregister("new_forecast_deals")
    return run_id
