"""Forecasts of bookings and cash with P10/P50/P90 bands, and their rolling-origin backtest.

run_forecast: the engine (engine.py) as of a moment, its headline chosen by the stored backtest
(selection.py), stored as a new run (store.py).
run_backtest: the engine, the baselines and their combination at past month-ends, scored against
what was booked (backtest.py). The method is described for users in docs/forecasting.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import UTC, datetime

import duckdb
import numpy as np

from pipeline_analytics.forecast.asof import build_as_of
from pipeline_analytics.forecast.backtest import BacktestSettings, run_backtest
from pipeline_analytics.forecast.engine import METHOD, EngineSettings, forecast
from pipeline_analytics.forecast.selection import Headline, choose_headline
from pipeline_analytics.forecast.store import store_run
from pipeline_analytics.sql_files import sql_statement

log = logging.getLogger(__name__)

__all__ = ["BacktestSettings", "EngineSettings", "run_backtest", "run_forecast"]

SEED_LIMIT = 2**62  # the range --seed accepts and forecast_runs.seed (bigint) holds


def run_forecast(
    con: duckdb.DuckDBPyConnection, settings: EngineSettings, as_of: datetime | None = None
) -> int:
    """Forecast as of `as_of` (default: the build's as_of) and store it; returns the run_id."""
    as_of = build_as_of(con) if as_of is None else _as_utc(as_of)
    if settings.seed is None:
        settings = dataclasses.replace(settings, seed=data_seed(con, as_of))
    result = forecast(con, as_of, settings)
    headline = choose_headline(con, as_of, available=(METHOD, *result.crosschecks))
    run_id = store_run(con, result, settings, headline)
    details = result.details
    for basis, count in details["open_deals_by_basis"].items():
        if basis != "stage":
            log.info("open deals forecast on fallback '%s' (docs/forecasting.md): %d", basis, count)
    if details["open_deals_without_amount"]:
        log.info(
            "open deals without amount_base, adding 0: %d", details["open_deals_without_amount"]
        )
    scenario = settings.scenario
    not_open = details.get("scenario", {}).get("excluded_deals_not_open")
    if scenario is not None and not_open:
        log.warning(
            "scenario %s: exclude_deals names %s, not an open deal at %s; nothing excluded for "
            "them (check the ids in [scenarios.%s] exclude_deals)",
            scenario.name,
            ", ".join(not_open),
            f"{as_of:%Y-%m-%d}",
            scenario.name,
        )
    total = result.total.sum(axis=1)
    log.info(
        "forecast run %d%s as of %s: %d months, expected bookings %.0f (P10 %.0f, P90 %.0f), "
        "%d simulations, seed %d",
        run_id,
        "" if scenario is None else f" (scenario {scenario.name})",
        as_of,
        result.grid.horizon,
        total.mean(),
        *(float(v) for v in np.percentile(total, [10, 90])),
        result.simulations,
        result.seed,
    )
    log.info("%s", headline_line(headline))
    return run_id


def headline_line(headline: Headline) -> str:
    """One log line: which method leads, why, and how its band was resized."""
    band = headline.band
    if band.scale is None or band.coverage_before is None or band.coverage_after is None:
        sizing = f"Band as simulated ({band.scored_forecasts} scored forecasts)"
    else:
        sizing = (
            f"Band x{band.scale:.2f}: backtest P10-P90 coverage {band.coverage_before:.0%} -> "
            f"{band.coverage_after:.0%} over {band.scored_forecasts} scored forecasts"
        )
    return f"headline: {headline.method}. {headline.reason} {sizing}."


def data_seed(con: duckdb.DuckDBPyConnection, as_of: datetime) -> int:
    """A seed that only the data and as_of decide, so the same warehouse forecasts the same twice.

    The loaded files' checksums identify the data ingested; the deal count also tells apart
    warehouses written without ingest (and a file loaded, then deals removed by retention).
    """
    files = [
        sha for (sha,) in con.execute(sql_statement("forecast/loaded_file_checksums")).fetchall()
    ]
    deals = con.execute("select count(*) from deals").fetchall()[0][0]
    text = "\n".join([as_of.isoformat(), str(deals), *files])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % SEED_LIMIT


def _as_utc(moment: datetime) -> datetime:
    """Warehouse timestamps are naive UTC."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
