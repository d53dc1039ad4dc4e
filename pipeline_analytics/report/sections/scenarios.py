"""The what-if scenarios beside the base forecast, in the forecast section.

Per stored run (the base first, then the newest run of each scenario forecast as of the same
moment): the first fiscal quarter's and year's P50 and P10–P90 of the engine's simulated total,
and P(hit) of the company-wide target of that period from the run's forecast_targets
(docs/forecasting.md, "What-if scenarios").
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from itertools import groupby
from typing import Any

import duckdb

from pipeline_analytics.report.data import Row, fetch, table_columns
from pipeline_analytics.report.forecast_data import ForecastRun
from pipeline_analytics.report.model import Block, Cell, Column, Heading, Note, ReportContext, Table
from pipeline_analytics.sql_files import sql_statement

NEEDS = {
    "forecast_runs": ("run_id", "as_of", "scenario"),
    "forecast_periods": ("run_id", "period", "period_start", "component", "p10", "p50", "p90"),
    "forecast_targets": ("run_id", "period_kind", "period_start", "owner", "pipeline", "p_hit"),
}
PERIODS = ("quarter", "year")
PERIOD_MONTHS = {"quarter": 3, "year": 12}


def scenario_blocks(
    con: duckdb.DuckDBPyConnection, run: ForecastRun, ctx: ReportContext
) -> list[Block]:
    """The scenario table; nothing when no scenario was forecast as of the base run's moment."""
    if any(not set(columns) <= table_columns(con, t) for t, columns in NEEDS.items()):
        return []
    rows = fetch(con, sql_statement("forecast/scenario_comparison"), {"run": run.run_id})
    if not any(r["scenario"] for r in rows):
        return []
    t = ctx.t
    runs = [list(group) for _, group in groupby(rows, key=lambda r: r["run_id"])]
    starts = {r["period"]: r["period_start"] for r in runs[0]}
    columns = [Column(t("Scenario"), numeric=False), Column(t("What changes"), numeric=False)]
    if "quarter" in starts:
        columns += [
            Column(t("Quarter P50")),
            Column(t("Quarter P10–P90")),
            Column(t("Quarter P(hit)")),
        ]
    if "year" in starts:
        columns += [
            Column(t("Fiscal year P50")),
            Column(t("Fiscal year P10–P90")),
            Column(t("Fiscal year P(hit)")),
        ]
    body = tuple(scenario_row(run_rows, ctx) for run_rows in runs)
    blocks: list[Block] = [
        Heading(t("What-if scenarios")),
        Table(
            tuple(columns),
            body,
            caption=t(
                "The engine's simulation with each scenario's changes, drawn with the base "
                "forecast's random numbers: differences are the scenario's, not chance"
            ),
        ),
        Note(period_sentence(starts, ctx)),
    ]
    blocks += scenario_notes(rows, run, ctx)
    return blocks


def scenario_row(rows: list[Row], ctx: ReportContext) -> tuple[Cell, ...]:
    t, fmt = ctx.t, ctx.fmt
    name = rows[0]["scenario"]
    cells = [
        Cell(t("Base forecast") if name is None else name),
        Cell("—" if name is None else changes_text(stored_scenario(rows[0]["config"]), ctx)),
    ]
    for row in rows:
        cells += [
            Cell(fmt.money(row["p50"]), row["p50"]),
            Cell(
                f"{fmt.money(row['p10'])} – {fmt.money(row['p90'])}"
                if row["p10"] is not None and row["p90"] is not None
                else "—"
            ),
            Cell(fmt.percent(row["p_hit"], 0), row["p_hit"])
            if row["p_hit"] is not None
            else Cell("—"),
        ]
    return tuple(cells)


def stored_scenario(config: str | None) -> dict[str, Any]:
    """The scenario a run stored in its config (forecast/engine.py); {} when unreadable."""
    try:
        stored = json.loads(config) if config else {}
    except json.JSONDecodeError:
        return {}
    scenario = stored.get("scenario") if isinstance(stored, dict) else None
    return scenario if isinstance(scenario, dict) else {}


def changes_text(scenario: dict[str, Any], ctx: ReportContext) -> str:
    """What the scenario changes against the base, in words; "—" when nothing is known."""
    t, fmt = ctx.t, ctx.fmt
    factors = {
        "win_rate_factor": t("win rate ×{factor}"),
        "cycle_factor": t("sales cycle ×{factor}"),
        "new_pipeline_factor": t("pipeline created ×{factor}"),
        "amount_factor": t("deal amounts ×{factor}"),
    }
    parts = []
    for key, text in factors.items():
        value = scenario.get(key)
        if isinstance(value, int | float) and value != 1:
            parts.append(text.format(factor=fmt.number(value, 2)))
    excluded = scenario.get("exclude_deals")
    not_open = scenario.get("excluded_deals_not_open") or []
    left_out = [d for d in excluded if d not in not_open] if isinstance(excluded, list) else []
    if left_out:
        parts.append(t("open deals left out: {deals}", deals=fmt.count(len(left_out))))
    reps, ramp_months = scenario.get("added_reps"), scenario.get("ramp_months")
    if isinstance(reps, int) and reps > 0:
        parts.append(
            t(
                "{reps} reps added, ramping over {months} months",
                reps=fmt.count(reps),
                months=fmt.count(ramp_months or 0),
            )
            if ramp_months
            else t("{reps} reps added at full pace", reps=fmt.count(reps))
        )
    return "; ".join(parts) or "—"


def period_sentence(starts: dict[str, date], ctx: ReportContext) -> str:
    t, fmt = ctx.t, ctx.fmt

    def span(period: str) -> dict[str, str]:
        last = months_after(starts[period], PERIOD_MONTHS[period]) - timedelta(days=1)
        return {"start": fmt.date(starts[period]), "end": fmt.date(last)}

    parts = []
    if "quarter" in starts:
        parts.append(t("The quarter runs from {start} to {end}.", **span("quarter")))
    if "year" in starts:
        parts.append(t("The fiscal year runs from {start} to {end}.", **span("year")))
    return " ".join(parts)


def scenario_notes(rows: list[Row], run: ForecastRun, ctx: ReportContext) -> list[Block]:
    """Why a P(hit) is blank, and which total the table compares when another method leads."""
    t = ctx.t
    notes: list[Block] = []
    if any(r["p_hit"] is None for r in rows):
        notes.append(
            Note(
                t(
                    "P(hit) is blank where no company-wide target is set for the period (or the "
                    "run stored none): set [[targets]] in the config to see the chance of "
                    "reaching it."
                )
            )
        )
    if any(r["complete"] is False for r in rows):
        notes.append(
            Note(
                t(
                    "The forecast horizon ends before a period of the table does: its totals "
                    "leave the months beyond the horizon out."
                ),
                "unavailable",
            )
        )
    if not run.engine_leads:
        notes.append(
            Note(
                t(
                    "The table compares the engine's own totals, which the scenarios change; the "
                    "headline above is another method's forecast."
                )
            )
        )
    return notes


def months_after(start: date, months: int) -> date:
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)
