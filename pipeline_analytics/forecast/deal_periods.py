"""forecast_deal_periods: each deal's part in each fiscal quarter and year of a run.

What changed between two runs (sql/forecast/change_causes.sql) is told deal by deal, so each run
keeps, per period of forecast_periods:
- every deal open at as_of: its chance of being won within the period's forecast months (the
  engine's P(won by the end of the last of them) minus P(won by the end of the month before), from
  the outcome model's cumulative curve) and amount x that chance, its expected value there; with
  the amount the forecast used and the CRM's expected close date known at as_of;
- every deal closed from the first period's start to as_of, in the periods its close falls in:
  a won deal books its amount (chance 1), a lost one nothing (chance 0). The won rows of a period
  add up to its `closed` component, the open rows' expected values to the mean of its
  `open_pipeline` (up to sampling error).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import polars as pl

from pipeline_analytics.forecast.asof import models_as_of
from pipeline_analytics.forecast.calendar import Period, add_months, periods
from pipeline_analytics.forecast.engine import EngineForecast
from pipeline_analytics.sql_files import sql_statement

PERIOD_MONTHS = {"quarter": 3, "year": 12}
SCHEMA = {
    "period_kind": pl.String,
    "period_start": pl.Date,
    "source": pl.String,
    "deal_id": pl.String,
    "status": pl.String,
    "amount_base": pl.Float64,
    "expected_close_date": pl.Date,
    "win_probability": pl.Float64,
    "expected_value_base": pl.Float64,
}


def run_periods(fc: EngineForecast) -> list[Period]:
    """The fiscal quarters and years of the run, as forecast_periods has them."""
    return [p for p in periods(fc.grid, fc.fiscal_year_start_month) if p.kind in PERIOD_MONTHS]


def deal_periods_frame(con: duckdb.DuckDBPyConnection, fc: EngineForecast) -> pl.DataFrame:
    """The run's forecast_deal_periods rows (without run_id)."""
    found = run_periods(fc)
    if not found:
        return pl.DataFrame(schema=SCHEMA)
    since = min(p.start for p in found)
    with models_as_of(con, fc.as_of):
        closed = con.sql(
            sql_statement("forecast/change_closed_deals"),
            params={"since": datetime(since.year, since.month, since.day)},
        ).pl()
    return pl.concat(
        [open_deal_rows(fc, found), closed_deal_rows(closed, found)], how="vertical_relaxed"
    )


def open_deal_rows(fc: EngineForecast, found: list[Period]) -> pl.DataFrame:
    """Every open deal in every period: its chance of being won in the period's forecast months."""
    deals = fc.deals
    win_by = fc.win_by_month
    amount = deals["amount_base"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    frames = []
    for period in found:
        first, last = period.months[0], period.months[-1]
        before = win_by[:, first - 1] if first > 0 else np.zeros(deals.height)
        chance = win_by[:, last] - before if win_by.size else np.zeros(deals.height)
        frames.append(
            pl.DataFrame(
                {
                    "period_kind": period.kind,
                    "period_start": period.start,
                    "source": deals["source"],
                    "deal_id": deals["deal_id"],
                    "status": "open",
                    "amount_base": deals["amount_base"],
                    "expected_close_date": fc.expected_close_dates,
                    "win_probability": pl.Series(chance, dtype=pl.Float64),
                    "expected_value_base": pl.Series(
                        amount * chance, dtype=pl.Float64, nan_to_null=True
                    ),
                },
                schema=SCHEMA,
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMA)


def closed_deal_rows(closed: pl.DataFrame, found: list[Period]) -> pl.DataFrame:
    """Deals closed by as_of, in each period their close falls in: won books the amount."""
    won = pl.col("status") == "won"
    frames = []
    for period in found:
        end = add_months(period.start, PERIOD_MONTHS[period.kind])
        day = pl.col("closed_at").dt.date()
        within = closed.filter((day >= period.start) & (day < end))
        frames.append(
            within.select(
                pl.lit(period.kind).alias("period_kind"),
                pl.lit(period.start).alias("period_start"),
                "source",
                "deal_id",
                "status",
                pl.col("amount_base").cast(pl.Float64),
                pl.lit(None, dtype=pl.Date).alias("expected_close_date"),
                pl.when(won).then(1.0).otherwise(0.0).alias("win_probability"),
                pl.when(won)
                .then(pl.col("amount_base"))
                .otherwise(0.0)
                .alias("expected_value_base"),
            ).cast(SCHEMA)
        )
    return pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMA)
