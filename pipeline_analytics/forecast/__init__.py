"""Forecasts of bookings and cash with P10/P50/P90 bands, and their rolling-origin backtest.

run_forecast: the engine (engine.py) as of a moment, stored as a new run (store.py).
run_backtest: the engine and the baselines at past month-ends, scored against what was booked
(backtest.py). The method is described for users in docs/forecasting.md.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import duckdb
import numpy as np

from pipeline_analytics.forecast.asof import build_as_of
from pipeline_analytics.forecast.backtest import BacktestSettings, run_backtest
from pipeline_analytics.forecast.engine import EngineSettings, forecast
from pipeline_analytics.forecast.store import store_run

log = logging.getLogger(__name__)

__all__ = ["BacktestSettings", "EngineSettings", "run_backtest", "run_forecast"]


def run_forecast(
    con: duckdb.DuckDBPyConnection, settings: EngineSettings, as_of: datetime | None = None
) -> int:
    """Forecast as of `as_of` (default: the build's as_of) and store it; returns the run_id."""
    as_of = build_as_of(con) if as_of is None else _as_utc(as_of)
    result = forecast(con, as_of, settings)
    run_id = store_run(con, result, settings)
    details = result.details
    for basis, count in details["open_deals_by_basis"].items():
        if basis != "stage":
            log.info("open deals forecast on fallback '%s' (docs/forecasting.md): %d", basis, count)
    if details["open_deals_without_amount"]:
        log.info(
            "open deals without amount_base, adding 0: %d", details["open_deals_without_amount"]
        )
    total = result.total.sum(axis=1)
    log.info(
        "forecast run %d as of %s: %d months, expected bookings %.0f (P10 %.0f, P90 %.0f), "
        "%d simulations, seed %d",
        run_id,
        as_of,
        result.grid.horizon,
        total.mean(),
        *(float(v) for v in np.percentile(total, [10, 90])),
        result.simulations,
        result.seed,
    )
    return run_id


def _as_utc(moment: datetime) -> datetime:
    """Warehouse timestamps are naive UTC."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
