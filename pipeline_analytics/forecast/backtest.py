"""Rolling-origin backtest: the engine and the baselines at past month-ends, against actuals.

Origins are the first instants of the latest `origins` months after which at least one complete
month of actual bookings is known (the start of a month is the end of the one before), with at
least MIN_HISTORY_MONTHS of history before them. At each origin every model the forecast reads
is rebuilt as of the origin (asof.py), so nothing recorded later is used; the engine and every
baseline forecast from there. Horizon h compares the sum over the first h months after the
origin with the bookings actually won in those months (mart_kpis_monthly of the warehouse's
build); a window that ends after the build's as_of is left out.

Beside the engine and the baselines, the backtest scores their `combination` (selection.py): the
per-statistic median of the engine and the two best baselines, at every origin and horizon where
all three forecast. forecast_backtest is replaced by each backtest; the forecast_accuracy view
scores it per method and horizon (WAPE, bias, pinball loss, P10-P90 coverage), and the forecast
reads it to choose its headline.

Too little history for a single origin is not an error in the data: the step is skipped
(StepSkipped) with one line saying what it needs.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np

from pipeline_analytics.config import CashflowSettings
from pipeline_analytics.errors import StepSkipped
from pipeline_analytics.forecast.asof import build_as_of
from pipeline_analytics.forecast.baselines import Bookings, Quantiles, from_paths
from pipeline_analytics.forecast.calendar import add_months, month_start
from pipeline_analytics.forecast.engine import METHOD, EngineSettings, forecast
from pipeline_analytics.forecast.selection import BacktestRow, combination_rows
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)

MIN_HISTORY_MONTHS = 6
PARALLEL_ORIGINS = 2


@dataclass(frozen=True)
class BacktestSettings:
    origins: int = 18
    horizon_months: int = 3
    simulations: int = 2_000
    seed: int = 0
    cashflow: CashflowSettings = field(default_factory=CashflowSettings)
    impute_missing_amounts: bool = True


def origins(con: duckdb.DuckDBPyConnection, count: int) -> list[datetime]:
    """The latest `count` month starts with a complete month after them and history before."""
    as_of = build_as_of(con)
    first = con.execute("select min(month) from int_forecast_monthly").fetchall()[0][0]
    if first is None:
        return []
    last = add_months(month_start(as_of), -1)  # the last month start with a complete month after
    earliest = add_months(first, MIN_HISTORY_MONTHS)
    found = []
    month = last
    while month >= earliest and len(found) < count:
        found.append(datetime(month.year, month.month, 1))
        month = add_months(month, -1)
    return sorted(found)


def backtest(con: duckdb.DuckDBPyConnection, settings: BacktestSettings) -> list[BacktestRow]:
    """Forecast at every origin with the engine and the baselines; nothing is stored."""
    starts = origins(con, settings.origins)
    if not starts and closed_without_dates(con):
        raise StepSkipped(
            "backtest skipped: none of the closed deals has a close date, so there are no "
            "bookings by month to score a forecast against; map the export's close-date column "
            "([sources.columns] closed_at)"
        )
    if not starts:
        raise StepSkipped(
            f"backtest skipped: it needs {MIN_HISTORY_MONTHS} months of deals before a month-end "
            f"and a complete month after it; the data covers {complete_months(con)} complete "
            "month(s)"
        )
    as_of = build_as_of(con)
    actual = dict(con.execute("select month, won_amount_base from mart_kpis_monthly").fetchall())
    seeds = np.random.SeedSequence(settings.seed).spawn(len(starts))

    def forecast_at(index: int) -> dict[str, Bookings]:
        log.info("backtest origin %d of %d: %s", index + 1, len(starts), starts[index].date())
        engine_settings = EngineSettings(
            horizon_months=settings.horizon_months,
            simulations=settings.simulations,
            seed=int(seeds[index].generate_state(1)[0]),
            cashflow=settings.cashflow,
            impute_missing_amounts=settings.impute_missing_amounts,
        )
        cursor = con.cursor()  # each origin's models are rebuilt on its own connection
        try:
            result = forecast(cursor, starts[index], engine_settings)
        except StepSkipped as skipped:
            # A young pipeline's first month-ends may have nothing closed yet: not scored.
            log.info("backtest origin %s not scored: %s", starts[index].date(), skipped)
            return {}
        finally:
            cursor.close()
        return {METHOD: from_paths(METHOD, result.total), **result.crosschecks}

    # Origins are independent; two at a time keep both cores busy (DuckDB and numpy release the
    # GIL). Each has its own seed, so the rows do not depend on the order they finish in.
    with ThreadPoolExecutor(PARALLEL_ORIGINS) as pool:
        forecasts = list(pool.map(forecast_at, range(len(starts))))
    if not any(forecasts):
        raise StepSkipped(
            f"backtest skipped: none of the {len(starts)} month-ends could be forecast (nothing "
            "won or lost, or no amounts, before them)"
        )
    rows = []
    for origin, methods in zip(starts, forecasts, strict=True):
        for horizon in range(1, settings.horizon_months + 1):
            window = [add_months(origin.date(), k) for k in range(horizon)]
            if datetime.combine(add_months(window[-1], 1), datetime.min.time()) > as_of:
                continue
            booked = sum(actual.get(m, 0.0) for m in window)
            for method, bookings in methods.items():
                q = bookings.window(0, horizon)
                rows.append(BacktestRow(origin, horizon, method, booked, *_values(q)))
    return rows + combination_rows(rows)


def closed_without_dates(con: duckdb.DuckDBPyConnection) -> bool:
    """Deals were closed, none at a known time (a win/loss extract without dates)."""
    closed, dated = con.execute(
        "select count(*), count(closed_at) from int_deals_as_of where status in ('won', 'lost')"
    ).fetchall()[0]
    return closed > 0 and dated == 0


def complete_months(con: duckdb.DuckDBPyConnection) -> int:
    """The calendar months from the first month with a known deal that ended by as_of."""
    found = con.execute("select count(*) from int_forecast_monthly where is_complete").fetchall()
    return int(found[0][0])


def _values(q: Quantiles) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in (q.mean, q.p10, q.p50, q.p90))


def run_backtest(con: duckdb.DuckDBPyConnection, settings: BacktestSettings) -> int:
    """Run the backtest and replace forecast_backtest with it; returns the rows written."""
    rows = backtest(con, settings)
    created = datetime.now(UTC).replace(tzinfo=None)
    with transaction(con):
        con.execute("delete from forecast_backtest")
        con.executemany(
            "insert into forecast_backtest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    r.origin,
                    r.horizon_months,
                    r.method,
                    r.actual,
                    r.forecast_mean,
                    r.p10,
                    r.p50,
                    r.p90,
                    settings.simulations,
                    settings.seed,
                    created,
                ]
                for r in rows
            ],
        )
    for method, horizon, wape, coverage in con.execute(
        sql_statement("forecast/accuracy_log")
    ).fetchall():
        log.info(
            "backtest h=%d %-15s WAPE %s, P10-P90 coverage %s",
            horizon,
            method,
            "-" if wape is None else f"{wape:.1%}",
            "-" if coverage is None else f"{coverage:.0%}",
        )
    return len(rows)
