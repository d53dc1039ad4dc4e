"""The run's bookings targets as the report reads them (forecast_targets, forecast/targets.py).

A target's P(hit) is NULL in two cases, told apart here so the report can say which: the period
ends after the forecast horizon (its last months are not simulated), or the row is otherwise
without one. A period that has ended carries the fact (1 or 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from pipeline_analytics.report.data import fetch, table_columns
from pipeline_analytics.report.forecast_data import ForecastRun
from pipeline_analytics.report.formatting import is_missing
from pipeline_analytics.report.model import ReportContext
from pipeline_analytics.sql_files import sql_statement

TARGET_COLUMNS = (
    "period",
    "period_kind",
    "period_start",
    "period_end",
    "owner",
    "pipeline",
    "target",
    "closed_to_date",
    "remaining",
    "open_pipeline",
    "p50",
    "p_hit",
    "coverage",
    "required_win_rate",
)


@dataclass(frozen=True)
class RunTarget:
    period: str
    period_kind: str
    period_start: date
    period_end: date
    owner: str | None
    pipeline: str | None
    target: float
    closed_to_date: float
    remaining: float
    open_pipeline: float
    p50: float | None
    p_hit: float | None
    coverage: float | None
    required_win_rate: float | None

    @property
    def company_wide(self) -> bool:
        return self.owner is None and self.pipeline is None

    @property
    def attainment(self) -> float:
        """Closed to date as a share of the target (quota attainment)."""
        return self.closed_to_date / self.target


def run_targets(con: duckdb.DuckDBPyConnection, run: ForecastRun | None) -> list[RunTarget]:
    """The targets stored with the run, in period order (none for a run from before targets)."""
    if run is None or not {"run_id", *TARGET_COLUMNS} <= table_columns(con, "forecast_targets"):
        return []
    rows = fetch(con, sql_statement("forecast/target_run_rows"), {"run": run.run_id})
    return [RunTarget(**{k: row[k] for k in TARGET_COLUMNS}) for row in rows]


def beyond_horizon(target: RunTarget, run: ForecastRun) -> bool:
    """The period ends after the run's last forecast month: P(hit) cannot be simulated."""
    if run.as_of is None:
        return False
    months = int(run.config.get("horizon_months") or 0)
    index = run.as_of.year * 12 + run.as_of.month - 1 + months
    return is_missing(target.p_hit) and target.period_end > date(index // 12, index % 12 + 1, 1)


def period_label(target: RunTarget, fiscal_start: int, ctx: ReportContext) -> str:
    """ "Q1 2027", "Q1 FY2027", "Nov 2026", "2027" or "FY2027"."""
    t, fmt = ctx.t, ctx.fmt
    year = int(target.period[:4])
    if target.period_kind == "month":
        return fmt.month(target.period_start)
    if target.period_kind == "quarter":
        quarter = int(target.period[-1])
        if fiscal_start == 1:
            return fmt.quarter(year, quarter)
        return fmt.fiscal_quarter(year, quarter)
    return str(year) if fiscal_start == 1 else t("FY{year}", year=year)


def lead_target(targets: list[RunTarget], quarter_start: date, as_of: date) -> RunTarget | None:
    """The company-wide target the summary leads with: the leading quarter's, else the one of the
    first company-wide period still running at as_of (or ahead of it)."""
    company = [t for t in targets if t.company_wide]
    for target in company:
        if target.period_kind == "quarter" and target.period_start == quarter_start:
            return target
    running = [t for t in company if t.period_end > as_of]
    return min(running, key=lambda t: (t.period_end, t.period_start), default=None)
