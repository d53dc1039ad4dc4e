"""The stored forecast as the report reads it: the latest run, its monthly series, its quarter.

A run may hold every component of forecasting.md (`closed`, `open_pipeline`, `new_pipeline`,
`total`, with P10/P50/P90) or only some of them (the first stage-weighted engine stores
`open_pipeline` expected values); the report shows what the run has and says what it lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from pipeline_analytics.report.data import Row, fetch, table_columns
from pipeline_analytics.report.i18n import Translator

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
    }
    return "—" if method is None else names.get(method, method)


@dataclass(frozen=True)
class ForecastRun:
    run_id: int
    as_of: datetime | None
    method: str | None
    simulations: int | None
    config: dict[str, Any]
    components: frozenset[str]

    @property
    def headline_component(self) -> str:
        """`total` when the run has it, else the open pipeline (the first engine's only one)."""
        return "total" if "total" in self.components else "open_pipeline"


def latest_run(con: duckdb.DuckDBPyConnection) -> ForecastRun | None:
    """The newest stored run that has bookings, or None when no forecast has run yet."""
    if not table_columns(con, "forecast_runs") or not table_columns(con, "forecast_bookings"):
        return None
    runs = fetch(
        con,
        """
        select r.run_id, r.as_of, r.created_at, r.method, r.simulations, r.config,
            list(distinct b.component) as components
        from forecast_runs as r
        inner join forecast_bookings as b on r.run_id = b.run_id
        group by all
        order by r.created_at desc nulls last, r.run_id desc
        limit 1
        """,
    )
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
    )


def monthly(con: duckdb.DuckDBPyConnection, run: ForecastRun, component: str) -> list[Row]:
    return fetch(
        con,
        "select month, mean, p10, p50, p90 from forecast_bookings "
        "where run_id = ? and component = ? order by month",
        [run.run_id, component],
    )


def has_bands(months: list[Row]) -> bool:
    return bool(months) and all(
        m["p10"] is not None and m["p50"] is not None and m["p90"] is not None for m in months
    )


@dataclass(frozen=True)
class QuarterOutlook:
    """The (fiscal) quarter holding as_of: booked so far plus the forecast for the rest."""

    quarter_start: date
    won_to_date: float
    previous_quarter_won: float
    values: dict[str, float | None]  # mean, and p10/p50/p90 when the run has quarter bands
    has_bands: bool
    # False when the forecast horizon ends before the quarter does (the rest is not in the sum).
    complete: bool = True


QUARTER_SQL = """
with q as (
    select
        ?::date as quarter_start,
        (?::date + interval 3 month)::date as quarter_end,
        date_trunc('month', ?::timestamp)::date as as_of_month
),

facts as (
    select
        coalesce(sum(m.won_amount_base) filter (
            where m.month >= q.quarter_start and m.month < q.quarter_end
        ), 0) as won_to_date,
        coalesce(sum(m.won_amount_base) filter (
            where m.month >= q.quarter_start and m.month < q.as_of_month
        ), 0) as won_before_as_of_month,
        coalesce(sum(m.won_amount_base) filter (
            where m.month >= q.quarter_start - interval 3 month and m.month < q.quarter_start
        ), 0) as previous_quarter_won
    from mart_kpis_monthly as m
    cross join q
),

forecast as (
    select coalesce(sum(b.mean), 0) as forecast_mean
    from forecast_bookings as b
    cross join q
    where
        b.run_id = ?
        and list_contains(?, b.component)
        and b.month >= q.quarter_start
        and b.month < q.quarter_end
)

select q.quarter_start, f.*, fc.forecast_mean
from q cross join facts as f cross join forecast as fc
"""


def quarter_outlook(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, quarter_start: date, as_of: datetime
) -> QuarterOutlook:
    """Expected bookings of the (fiscal) quarter starting at `quarter_start` and holding as_of.

    The engine stores the quarter's total in forecast_periods: what was booked in the quarter's
    months before as_of's month plus the simulated rest, with percentiles of the simulated quarter
    totals. A run without it (the first, stage-weighted engine) gives means only, which add up
    across months: the facts of the months before as_of's month (mart_kpis_monthly) plus its
    components, with as_of's own month from the facts when the run has no `closed` component."""
    if "total" in run.components:
        components, closed_in_run = ["total"], True
    else:
        components = [c for c in COMPONENTS if c in run.components]
        closed_in_run = "closed" in run.components
    row = fetch(con, QUARTER_SQL, [quarter_start, quarter_start, as_of, run.run_id, components])[0]
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
    facts = row["won_before_as_of_month"] if closed_in_run else row["won_to_date"]
    return QuarterOutlook(
        quarter_start=quarter_start,
        won_to_date=row["won_to_date"],
        previous_quarter_won=row["previous_quarter_won"],
        values={"mean": facts + row["forecast_mean"]},
        has_bands=False,
    )


STATISTICS = ("mean", "p10", "p50", "p90")
PERIOD_COLUMNS = ("run_id", "period", "period_start", "complete", "component", *STATISTICS)


def quarter_totals(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, quarter_start: date
) -> Row | None:
    """The run's simulated totals of the whole quarter, if it stored them."""
    if not set(PERIOD_COLUMNS) <= table_columns(con, "forecast_periods"):
        return None
    rows = fetch(
        con,
        "select complete, mean, p10, p50, p90 from forecast_periods where run_id = ? "
        "and period = 'quarter' and period_start = ? and component = 'total'",
        [run.run_id, quarter_start],
    )
    return rows[0] if rows else None


CROSSCHECK_COLUMNS = ("run_id", "month", "method", "mean", "p50")


def crosschecks(con: duckdb.DuckDBPyConnection, run: ForecastRun) -> list[Row]:
    """The naive methods' monthly bookings stored beside the run (none for older runs)."""
    if not set(CROSSCHECK_COLUMNS) <= table_columns(con, "forecast_crosschecks"):
        return []
    return fetch(
        con,
        "select method, month, mean, p50 from forecast_crosschecks where run_id = ? "
        "order by method, month",
        [run.run_id],
    )
