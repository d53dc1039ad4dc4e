"""Rolling-origin backtest: the engine and the baselines at past month-ends, against actuals.

Origins are the first instants of the latest `origins` months after which at least one complete
month of actual bookings is known (the start of a month is the end of the one before), with at
least MIN_HISTORY_MONTHS of history before them. At each origin every model the forecast reads
is rebuilt as of the origin (asof.py), so nothing recorded later is used; the engine and every
baseline forecast from there. Horizon h compares the sum over the first h months after the
origin with the bookings actually won in those months (mart_kpis_monthly of the warehouse's
build); a window that ends after the build's as_of is left out.

The backtest is incremental. An origin's forecasts, every horizon of every method, are stored in
forecast_backtest_forecasts with what they were made with (forecast_backtest_origins): a key of
the settings, the forecast code and library versions (made_with), and one of the data from up to
the origin (data_known). Data after an origin cannot change its forecast (tested), so a later
backtest forecasts only the origins whose keys are new or changed and rescores every stored one
against the actuals known then; an origin's seed depends on the origin alone, so an incremental
backtest stores what a full one would.

Beside the engine and the baselines, the backtest scores their `combination` (selection.py): the
per-statistic median of the engine and the two best baselines, at every origin and horizon where
all three forecast. forecast_backtest is replaced by each backtest; the forecast_accuracy view
scores it per method and horizon (WAPE, bias, pinball loss, P10-P90 coverage), and the forecast
reads it to choose its headline.

Too little history for a single origin is not an error in the data: the step is skipped
(StepSkipped) with one line saying what it needs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

from pipeline_analytics.config import CashflowSettings
from pipeline_analytics.errors import StepSkipped
from pipeline_analytics.forecast.asof import build_as_of, needed_models
from pipeline_analytics.forecast.baselines import Bookings, Quantiles, from_paths
from pipeline_analytics.forecast.calendar import add_months, month_start
from pipeline_analytics.forecast.engine import METHOD, EngineSettings, forecast
from pipeline_analytics.forecast.selection import BacktestRow, combination_rows
from pipeline_analytics.sql_files import sql_files_in, sql_statement
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


@dataclass(frozen=True)
class OriginForecast:
    """What the engine and the baselines forecast at one origin, or why it was not scored."""

    origin: datetime
    seed: int
    methods: dict[str, Bookings]
    note: str | None = None


@dataclass(frozen=True)
class BacktestOutcome:
    rows: int
    kept: list[datetime]
    forecast: list[datetime]


def made_with(settings: BacktestSettings) -> str:
    """A key of everything an origin's forecast depends on besides the data: the settings, the
    forecast code and the SQL it runs, and the versions of the libraries that compute or draw."""
    digest = hashlib.sha256()
    fields = dataclasses.asdict(settings)
    fields.pop("origins")  # how many origins are scored, not how each is forecast
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for package in ("pipeline-analytics", "duckdb", "numpy", "polars", "statsmodels", "scipy"):
        digest.update(f"{package}={importlib.metadata.version(package)}\n".encode())
    code = sorted(Path(__file__).parent.glob("*.py")) + sql_files_in("forecast")
    for path in code + [model.path for model in needed_models()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def data_known(con: duckdb.DuckDBPyConnection, starts: list[datetime]) -> dict[datetime, str]:
    """Per origin, a key of the data from up to it (backtest_data_known.sql), the stages and the
    build settings (not as_of, nor when it was built): what the origin's forecast came from."""
    settings = con.execute("select * exclude (as_of, built_at) from build_params").fetchall()
    stages = con.execute("select * from stages order by all").fetchall()
    common = repr((settings, stages))
    facts: dict[datetime, list[tuple]] = {origin: [] for origin in starts}
    for origin, *fact in con.execute(
        sql_statement("forecast/backtest_data_known"), {"origins": starts}
    ).fetchall():
        facts[origin].append(tuple(fact))
    return {
        origin: hashlib.sha256(repr((common, rows)).encode()).hexdigest()[:16]
        for origin, rows in facts.items()
    }


def origin_seed(seed: int, origin: datetime) -> int:
    """The origin's own seed: the same whichever other origins are forecast with it."""
    return int(np.random.SeedSequence([seed, origin.year, origin.month]).generate_state(1)[0])


def forecast_origins(
    con: duckdb.DuckDBPyConnection, starts: list[datetime], settings: BacktestSettings
) -> list[OriginForecast]:
    """The engine and the baselines at each origin, two origins at a time; nothing is stored."""

    def forecast_at(index: int) -> OriginForecast:
        origin = starts[index]
        log.info("backtest origin %d of %d: %s", index + 1, len(starts), origin.date())
        seed = origin_seed(settings.seed, origin)
        engine_settings = EngineSettings(
            horizon_months=settings.horizon_months,
            simulations=settings.simulations,
            seed=seed,
            cashflow=settings.cashflow,
            impute_missing_amounts=settings.impute_missing_amounts,
        )
        cursor = con.cursor()  # each origin's models are rebuilt on its own connection
        try:
            result = forecast(cursor, origin, engine_settings)
        except StepSkipped as skipped:
            # A young pipeline's first month-ends may have nothing closed yet: not scored.
            log.info("backtest origin %s not scored: %s", origin.date(), skipped)
            return OriginForecast(origin, seed, {}, str(skipped))
        finally:
            cursor.close()
        methods = {METHOD: from_paths(METHOD, result.total), **result.crosschecks}
        return OriginForecast(origin, seed, methods)

    # Origins are independent; two at a time keep both cores busy (DuckDB and numpy release the
    # GIL). Each has its own seed, so the rows do not depend on the order they finish in.
    with ThreadPoolExecutor(PARALLEL_ORIGINS) as pool:
        return list(pool.map(forecast_at, range(len(starts))))


def run_backtest(
    con: duckdb.DuckDBPyConnection, settings: BacktestSettings, *, recompute: bool = False
) -> BacktestOutcome:
    """Forecast the origins not stored yet (all of them with `recompute`), store them, and replace
    forecast_backtest with every stored forecast scored against the actuals known now.

    A stored origin is reused while it was made with the same settings and code (made_with) from
    the same data up to it (data_known): data after an origin cannot change its forecast.
    """
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
    key = made_with(settings)
    known = data_known(con, starts)
    stored = {
        origin: (made, data)
        for origin, made, data in con.execute(
            "select origin, made_with, data_known from forecast_backtest_origins"
        ).fetchall()
    }
    todo = [o for o in starts if recompute or stored.get(o) != (key, known[o])]
    kept = [o for o in starts if o not in todo]
    log.info(
        "backtest: %d origins kept, %d to forecast%s",
        len(kept),
        len(todo),
        _listed(todo),
    )
    made = forecast_origins(con, todo, settings)
    created = datetime.now(UTC).replace(tzinfo=None)
    with transaction(con):
        _store_origins(con, starts, made, key, known, settings, created)
        scored = sql_statement("forecast/backtest_scored")
        rows = [
            BacktestRow(origin, horizon, method, actual, mean, p10, p50, p90)
            for origin, horizon, method, mean, p10, p50, p90, actual in con.execute(
                scored
            ).fetchall()
        ]
        rows += combination_rows(rows)
        if rows:  # else the older scores stay, and the step says why it has none
            con.execute("delete from forecast_backtest")
            con.executemany(
                "insert into forecast_backtest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[*_columns(r), settings.simulations, settings.seed, created] for r in rows],
            )
    if not rows:
        raise StepSkipped(
            f"backtest skipped: none of the {len(starts)} month-ends could be forecast (nothing "
            "won or lost, or no amounts, before them)"
        )
    _log_accuracy(con)
    return BacktestOutcome(len(rows), kept, todo)


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


def _store_origins(
    con: duckdb.DuckDBPyConnection,
    starts: list[datetime],
    made: list[OriginForecast],
    key: str,
    known: dict[datetime, str],
    settings: BacktestSettings,
    created: datetime,
) -> None:
    """Replace the stored origins forecast now and drop those no longer among the origins."""
    drop = [o.origin for o in made]
    con.execute(
        "delete from forecast_backtest_forecasts where origin = any($drop) or origin != all($keep)",
        {"drop": drop, "keep": starts},
    )
    con.execute(
        "delete from forecast_backtest_origins where origin = any($drop) or origin != all($keep)",
        {"drop": drop, "keep": starts},
    )
    if not made:
        return
    con.executemany(
        "insert into forecast_backtest_origins values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [o.origin, key, known[o.origin], bool(o.methods), o.note, settings.simulations]
            + [o.seed, created]
            for o in made
        ],
    )
    forecasts = [
        [o.origin, method, horizon, *_values(bookings.window(0, horizon))]
        for o in made
        for method, bookings in o.methods.items()
        for horizon in range(1, settings.horizon_months + 1)
    ]
    if forecasts:
        con.executemany(
            "insert into forecast_backtest_forecasts values (?, ?, ?, ?, ?, ?, ?)", forecasts
        )


def _listed(moments: list[datetime]) -> str:
    """' (2026-08-01, 2026-09-01)' or, for a longer run of months, ' (2025-04-01 to 2026-09-01)'."""
    if not moments:
        return ""
    dates = [f"{m:%Y-%m-%d}" for m in moments]
    return f" ({', '.join(dates)})" if len(dates) <= 3 else f" ({dates[0]} to {dates[-1]})"


def _columns(r: BacktestRow) -> list[object]:
    return [r.origin, r.horizon_months, r.method, r.actual, r.forecast_mean, r.p10, r.p50, r.p90]


def _values(q: Quantiles) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in (q.mean, q.p10, q.p50, q.p90))


def _log_accuracy(con: duckdb.DuckDBPyConnection) -> None:
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
