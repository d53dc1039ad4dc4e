"""Writing a forecast run: every table of the run in one transaction, never overwriting a run.

Tables (docs/forecasting.md): forecast_runs, forecast_bookings (month x component),
forecast_periods (fiscal quarter and year x component), forecast_deals, forecast_cashflow,
forecast_crosschecks (the baselines beside the engine), forecast_changes (the deals that moved
the forecast since the previous run), forecast_targets (each configured target: targets.py),
forecast_deal_periods (each deal's part in each quarter and year, deal_periods.py).

Component `headline` is the method the backtest chose (selection.py) with its band rescaled;
`total` stays the engine's own, and forecast_runs.method names the headline's method.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import polars as pl

from pipeline_analytics.forecast.baselines import BASELINES, from_paths
from pipeline_analytics.forecast.calendar import periods
from pipeline_analytics.forecast.deal_periods import deal_periods_frame
from pipeline_analytics.forecast.engine import METHOD, EngineForecast, EngineSettings
from pipeline_analytics.forecast.outcomes import AGE_BUCKET_EDGES, MIN_RESOLVED
from pipeline_analytics.forecast.selection import COMBINATION, Headline, headline_bookings
from pipeline_analytics.forecast.targets import target_notes, targets_frame
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction

COMPONENTS = ("closed", "open_pipeline", "new_pipeline", "total")
HEADLINE = "headline"
STATS = ("mean", "p10", "p50", "p90")
# A run's table forecast_TABLE from its frame, registered as new_TABLE.
FRAME_INSERT = "insert into forecast_{table} by name select $run as run_id, * from new_{table}"


def stats(values: np.ndarray) -> dict[str, float]:
    """Mean and P10/P50/P90 over simulations (axis 0)."""
    p10, p50, p90 = np.percentile(values, [10, 50, 90], axis=0)
    return {"mean": values.mean(axis=0), "p10": p10, "p50": p50, "p90": p90}


def _component_paths(fc: EngineForecast) -> dict[str, np.ndarray]:
    closed = np.zeros_like(fc.open_pipeline)
    closed[:, 0] = fc.closed
    return {
        "closed": closed,
        "open_pipeline": fc.open_pipeline,
        "new_pipeline": fc.new_pipeline,
        "total": fc.total,
    }


def bookings_frame(fc: EngineForecast) -> pl.DataFrame:
    rows = []
    for component, paths in _component_paths(fc).items():
        s = stats(paths)
        rows += [
            {"month": month, "component": component, **{k: float(v[i]) for k, v in s.items()}}
            for i, month in enumerate(fc.grid.starts)
        ]
    return pl.DataFrame(rows)


def periods_frame(fc: EngineForecast) -> pl.DataFrame:
    """Fiscal quarters and years: facts booked before as_of plus the simulated rest."""
    first = fc.grid.starts[0]
    rows = []
    for period in periods(fc.grid, fc.fiscal_year_start_month):
        if period.kind == "month":
            continue
        before = sum(v for m, v in fc.booked_before.items() if period.start <= m < first)
        for component, paths in _component_paths(fc).items():
            summed = paths[:, list(period.months)].sum(axis=1)
            if component in ("closed", "total"):
                summed = summed + before
            s = stats(summed)
            rows.append(
                {
                    "period": period.kind,
                    "period_start": period.start,
                    "months_forecast": len(period.months),
                    "complete": period.complete,
                    "component": component,
                    **{k: float(v) for k, v in s.items()},
                }
            )
    return pl.DataFrame(rows)


def headline_frames(fc: EngineForecast, headline: Headline) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Component `headline` per month, and per fiscal quarter and year as periods_frame has them.

    Every method can sum any run of consecutive months (baselines.Bookings.window), so a period's
    quantiles are those of the period's total, never sums of monthly quantiles.
    """
    bookings = headline_bookings(headline, from_paths(METHOD, fc.total), fc.crosschecks)
    first = fc.grid.starts[0]
    months, quarters_years = [], []
    for period in periods(fc.grid, fc.fiscal_year_start_month):
        q = dataclasses.asdict(bookings.window(period.months[0], period.months[-1] + 1))
        if period.kind == "month":
            months.append({"month": period.start, "component": HEADLINE, **q})
            continue
        before = sum(v for m, v in fc.booked_before.items() if period.start <= m < first)
        quarters_years.append(
            {
                "period": period.kind,
                "period_start": period.start,
                "months_forecast": len(period.months),
                "complete": period.complete,
                "component": HEADLINE,
                **{k: None if v is None else v + before for k, v in q.items()},
            }
        )
    numbers = dict.fromkeys(STATS, pl.Float64)
    return (
        pl.DataFrame(months, schema={"month": pl.Date, "component": pl.String} | numbers),
        pl.DataFrame(
            quarters_years,
            schema={
                "period": pl.String,
                "period_start": pl.Date,
                "months_forecast": pl.Int64,
                "complete": pl.Boolean,
                "component": pl.String,
            }
            | numbers,
        ),
    )


def cashflow_frame(fc: EngineForecast) -> pl.DataFrame:
    columns: dict[str, Any] = {"month": list(fc.grid.starts)}
    for name, paths in (
        ("billings", fc.cash.billings),
        ("collections", fc.cash.collections),
        ("recognized_revenue", fc.cash.recognized),
    ):
        for stat, values in stats(paths).items():
            key = name if (name, stat) == ("recognized_revenue", "mean") else f"{name}_{stat}"
            columns[key] = values
    return pl.DataFrame(columns).select(
        "month",
        *(f"{n}_{s}" for n in ("billings", "collections") for s in ("mean", "p10", "p50", "p90")),
        "recognized_revenue",
        *(f"recognized_revenue_{s}" for s in ("p10", "p50", "p90")),
    )


def crosschecks_frame(fc: EngineForecast) -> pl.DataFrame:
    rows = [
        {"month": month, "method": method, **dataclasses.asdict(bookings.window(i, i + 1))}
        for method, bookings in fc.crosschecks.items()
        for i, month in enumerate(fc.grid.starts)
    ]
    schema = {"month": pl.Date, "method": pl.String} | {
        k: pl.Float64 for k in ("mean", "p10", "p50", "p90")
    }
    return pl.DataFrame(rows, schema=schema)


def run_config(fc: EngineForecast, settings: EngineSettings, headline: Headline) -> dict[str, Any]:
    return {
        "horizon_months": settings.horizon_months,
        "first_month": "calendar month containing as_of, from as_of on",
        "min_resolved_outcomes": MIN_RESOLVED,
        "age_bucket_edges_days": AGE_BUCKET_EDGES.tolist(),
        "fallbacks": ["stage", "pooled", "oldest_age", "deal_age", "crm", "win_rate", "none"],
        "fiscal_year_start_month": fc.fiscal_year_start_month,
        "cashflow": dataclasses.asdict(settings.cashflow),
        **fc.details,
        "headline": headline.as_config(),
        **target_notes(fc),
    }


def store_run(
    con: duckdb.DuckDBPyConnection,
    fc: EngineForecast,
    settings: EngineSettings,
    headline: Headline,
) -> int:
    """Write the run and all its tables in one transaction; returns the new run_id."""
    headline_months, headline_periods = headline_frames(fc, headline)
    frames = {
        "bookings": pl.concat([bookings_frame(fc), headline_months], how="diagonal_relaxed"),
        "periods": pl.concat([periods_frame(fc), headline_periods], how="diagonal_relaxed"),
        "deals": fc.deals,
        "cashflow": cashflow_frame(fc),
        "crosschecks": crosschecks_frame(fc),
        "deal_periods": deal_periods_frame(con, fc),
    }
    targets = targets_frame(fc, headline)
    if targets.height:
        frames["targets"] = targets
    for table, frame in frames.items():
        con.register(f"new_{table}", frame)
    try:
        with transaction(con):
            run_id = con.execute(
                "select coalesce(max(run_id), 0) + 1 from forecast_runs"
            ).fetchall()[0][0]
            con.execute(
                "insert into forecast_runs (run_id, as_of, created_at, horizon_months, "
                "simulations, seed, method, config, scenario) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    fc.as_of,
                    datetime.now(UTC).replace(tzinfo=None),
                    fc.grid.horizon,
                    fc.simulations,
                    fc.seed,
                    headline.method,
                    json.dumps(run_config(fc, settings, headline), default=str),
                    settings.scenario.name if settings.scenario else None,
                ],
            )
            for table in frames:
                con.execute(FRAME_INSERT.format(table=table), {"run": run_id})
            con.execute(
                sql_statement("forecast/run_changes_insert"),
                {"run": run_id, "as_of": fc.as_of, "methods": list(RUN_METHODS)},
            )
    finally:
        for table in frames:
            con.unregister(f"new_{table}")
    return run_id


# Every run since the headline was chosen by the backtest has the engine's forecast_deals, whatever
# its method; older methods (e.g. stage_weighted) stored other per-deal numbers.
RUN_METHODS = (METHOD, COMBINATION, *BASELINES)
