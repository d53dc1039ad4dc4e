"""Bookings targets against a forecast run: closed to date, coverage and P(hit) (forecast_targets).

P(hit) is the share of the run's own simulations whose period total (closed to date + simulated
rest) is at least the target; no second model. Owner and pipeline targets need the open pipeline
per owner or pipeline: the engine simulates each open deal in its cash group x target segment
(segment = the owner and the pipeline the targets name, else "other"), so the paths per segment
are the same draws as the total's. Pipeline not created yet is not attributed to anyone by the
engine: a segment gets its share of the pipeline created in the trailing lookback window, the
same share in every simulation (docs/forecasting.md, "Targets and P(hit)").

A company-wide target is read against the headline (selection.py): the engine's period totals are
moved monotonically onto the headline's P10/P50/P90 (piecewise linear through them), so a target
at the displayed P50 has P(hit) 0.5 and one at the P10 0.9, whatever method leads and however its
band was rescaled. Owner and pipeline totals have no headline of their own: the engine's, with
its band scale when the engine leads.

A period that has ended is a fact (P(hit) 1 or 0); one ending after the forecast horizon has no
P(hit) (NULL): its last months are not simulated. Nor has the target of an owner or pipeline that
no deal known at as_of carries (a misspelt name, or an export without owners): a 0% would blame a
rep for a name the data does not hold.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import polars as pl

from pipeline_analytics.config import Target
from pipeline_analytics.forecast.baselines import Quantiles, from_paths
from pipeline_analytics.forecast.calendar import add_months
from pipeline_analytics.forecast.selection import ENGINE, Headline, headline_bookings
from pipeline_analytics.sql_files import sql_statement

if TYPE_CHECKING:
    from pipeline_analytics.forecast.engine import EngineForecast

PERIOD = re.compile(r"(\d{4})(?:-Q([1-4])|-(\d{2}))?")
SEGMENT_KEYS = ("owner_key", "pipeline_key")


@dataclass(frozen=True)
class TargetInputs:
    """What the targets need from the data as of the forecast's as_of (read_target_inputs)."""

    facts: pl.DataFrame  # sql/forecast/target_facts.sql, one row per target
    segments: pl.DataFrame  # owner_key, pipeline_key, new_share: one row per segment
    deal_segment: np.ndarray  # each open deal's row in `segments` (open_deals' order)


@dataclass(frozen=True)
class SegmentPaths:
    """The run's simulated open pipeline per target segment: (simulations, segments, months)."""

    inputs: TargetInputs
    open_pipeline: np.ndarray


def period_bounds(period: str, fiscal_year_start_month: int) -> tuple[date, date]:
    """First day and first day after of "2026-Q4" (fiscal quarter), "2026-11" (month) or "2027"
    (fiscal year, named by the calendar year it ends in, as [report] targets always were)."""
    match = PERIOD.fullmatch(period)
    if match is None:
        raise ValueError(f"not a target period: {period!r}")
    year, quarter, month = match.groups()
    if month:
        start = date(int(year), int(month), 1)
        return start, add_months(start, 1)
    first_year = int(year) if fiscal_year_start_month == 1 else int(year) - 1
    year_start = date(first_year, fiscal_year_start_month, 1)
    if quarter:
        start = add_months(year_start, 3 * (int(quarter) - 1))
        return start, add_months(start, 3)
    return year_start, add_months(year_start, 12)


def target_periods(targets: Sequence[Target], fiscal_year_start_month: int) -> pl.DataFrame:
    rows = []
    for index, target in enumerate(targets):
        start, end = period_bounds(target.period, fiscal_year_start_month)
        rows.append(
            {
                "target_index": index,
                "period": target.period,
                "period_kind": target.period_kind,
                "period_start": start,
                "period_end": end,
                "owner": target.owner,
                "pipeline": target.pipeline,
                "target": target.amount,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "target_index": pl.Int64,
            "period": pl.String,
            "period_kind": pl.String,
            "period_start": pl.Date,
            "period_end": pl.Date,
            "owner": pl.String,
            "pipeline": pl.String,
            "target": pl.Float64,
        },
    )


def read_target_inputs(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    fiscal_year_start_month: int,
    open_deals: pl.DataFrame,
) -> TargetInputs:
    """The targets' facts and segments from the models as of the forecast's as_of (called inside
    asof.models_as_of, like the engine's other inputs)."""
    names = {
        "owners": sorted({t.owner for t in targets if t.owner}),
        "pipelines": sorted({t.pipeline for t in targets if t.pipeline}),
    }
    periods = target_periods(targets, fiscal_year_start_month)
    con.register("target_periods", periods)
    try:
        facts = con.sql(sql_statement("forecast/target_facts")).pl()
    finally:
        con.unregister("target_periods")
    by_deal = con.sql(sql_statement("forecast/target_segments"), params=names).pl()
    created = con.sql(sql_statement("forecast/target_created"), params=names).pl()
    keys = (
        pl.concat([by_deal.select(SEGMENT_KEYS), created.select(SEGMENT_KEYS)])
        .unique()
        .sort(SEGMENT_KEYS, nulls_last=True)
    )
    total_created = created["created_base"].sum() or 0.0
    segments = keys.join(created, on=SEGMENT_KEYS, how="left", nulls_equal=True).select(
        *SEGMENT_KEYS,
        new_share=pl.col("created_base").fill_null(0.0) / total_created
        if total_created > 0
        else pl.lit(0.0),
    )
    index = segments.with_row_index("segment").select("segment", *SEGMENT_KEYS)
    deal_segment = (
        open_deals.select("source", "deal_id")
        .join(by_deal, on=["source", "deal_id"], how="left", maintain_order="left")
        .join(index, on=SEGMENT_KEYS, how="left", nulls_equal=True, maintain_order="left")[
            "segment"
        ]
        .to_numpy()
        .astype(np.intp)
    )
    return TargetInputs(facts, segments, deal_segment)


def headline_paths(paths: np.ndarray, headline: Quantiles) -> np.ndarray:
    """The paths moved monotonically (piecewise linear through P10, P50, P90) so that their
    P10/P50/P90 are the headline's; a headline without a band moves them to its P50 only."""
    e10, e50, e90 = np.percentile(paths, [10, 50, 90])
    if headline.p50 is None:
        return paths
    if headline.p10 is None or headline.p90 is None:
        return paths + (headline.p50 - e50)
    below = (headline.p50 - headline.p10) / (e50 - e10) if e50 > e10 else 1.0
    above = (headline.p90 - headline.p50) / (e90 - e50) if e90 > e50 else 1.0
    return headline.p50 + np.where(paths < e50, below, above) * (paths - e50)


def scaled_paths(paths: np.ndarray, scale: float | None) -> np.ndarray:
    """The paths' spread around their median scaled as the headline's band is (selection.py)."""
    if scale is None or scale == 1.0:
        return paths
    median = np.percentile(paths, 50)
    return median + scale * (paths - median)


def targets_frame(fc: EngineForecast, headline: Headline) -> pl.DataFrame:
    """forecast_targets rows (without run_id) of a run: the facts, P50 and P(hit) per target."""
    segments = fc.segments
    if segments is None:
        return pl.DataFrame()
    facts = segments.inputs.facts
    horizon_end = add_months(fc.grid.starts[-1], 1)
    company = headline_bookings(headline, from_paths(ENGINE, fc.total), fc.crosschecks)
    p50s, p_hits = [], []
    for row in facts.iter_rows(named=True):
        if row["ended"]:
            p50s.append(row["closed_to_date"])
            p_hits.append(1.0 if row["closed_to_date"] >= row["target"] else 0.0)
            continue
        if row["period_end"] > horizon_end or unmatched(segments, row):
            p50s.append(None)  # not simulated, or nobody of that name: no total to compare
            p_hits.append(None)
            continue
        months = [
            k for k, m in enumerate(fc.grid.starts) if row["period_start"] <= m < row["period_end"]
        ]
        if row["owner"] is None and row["pipeline"] is None:
            before = sum(
                v
                for m, v in fc.booked_before.items()
                if row["period_start"] <= m < fc.grid.starts[0]
            )
            engine_paths = fc.total[:, months].sum(axis=1) + before
            q = company.window(months[0], months[-1] + 1)
            shown = Quantiles(*(None if v is None else v + before for v in dataclasses.astuple(q)))
            paths = headline_paths(engine_paths, shown)
            p50 = shown.p50  # the headline's, as forecast_periods has it
        else:
            paths = scaled_paths(
                row["closed_to_date"] + segment_rest(fc, segments, row, months),
                headline.band.scale if headline.method == ENGINE else None,
            )
            p50 = float(np.percentile(paths, 50))
        p50s.append(p50)
        p_hits.append(float(np.mean(paths >= row["target"])))
    return facts.with_columns(
        p50=pl.Series(p50s, dtype=pl.Float64), p_hit=pl.Series(p_hits, dtype=pl.Float64)
    ).select(
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
        (pl.col("p50") - pl.col("target")).alias("p50_gap"),
        "coverage",
        "required_win_rate",
    )


def chosen_segments(segments: SegmentPaths, row: dict) -> np.ndarray:
    """Which simulation segments make up a target's owner or pipeline."""
    keys = segments.inputs.segments
    chosen = np.ones(keys.height, dtype=bool)
    if row["owner"] is not None:
        chosen &= (keys["owner_key"] == row["owner"]).fill_null(False).to_numpy()
    if row["pipeline"] is not None:
        chosen &= (keys["pipeline_key"] == row["pipeline"]).fill_null(False).to_numpy()
    return chosen


def unmatched(segments: SegmentPaths, row: dict) -> bool:
    """An owner's or pipeline's target that no deal known at as_of carries: nothing open, nothing
    created in the lookback window, nothing won in the period."""
    named = row["owner"] is not None or row["pipeline"] is not None
    return named and row["closed_to_date"] == 0 and not chosen_segments(segments, row).any()


def segment_rest(
    fc: EngineForecast, segments: SegmentPaths, row: dict, months: list[int]
) -> np.ndarray:
    """The simulated bookings of a target's owner or pipeline in the given months, per path: its
    segments' open pipeline, plus their share of new pipeline."""
    keys = segments.inputs.segments
    chosen = chosen_segments(segments, row)
    open_part = segments.open_pipeline[:, chosen][:, :, months].sum(axis=(1, 2))
    share = float(keys["new_share"].to_numpy()[chosen].sum())
    return open_part + share * fc.new_pipeline[:, months].sum(axis=1)


def target_notes(fc: EngineForecast) -> dict[str, Any]:
    """forecast_runs.config["targets"]: the segments simulated, and why a target has no P(hit)."""
    if fc.segments is None:
        return {}
    horizon_end = add_months(fc.grid.starts[-1], 1)
    without = []
    for row in fc.segments.inputs.facts.iter_rows(named=True):
        if row["ended"]:
            continue
        if row["period_end"] > horizon_end:
            reason = (
                f"the period ends after the forecast horizon ({horizon_end} is the first day not "
                "simulated), so its total cannot be simulated"
            )
        elif unmatched(fc.segments, row):
            who = f"owner {row['owner']!r}" if row["owner"] else f"pipeline {row['pipeline']!r}"
            reason = (
                f"no deal known at as_of has {who}: check the name as the export writes it (an "
                "export without that column has none)"
            )
        else:
            continue
        without.append(
            {
                "period": row["period"],
                "owner": row["owner"],
                "pipeline": row["pipeline"],
                "reason": reason,
            }
        )
    return {
        "targets": {
            "segments": fc.segments.inputs.segments.height,
            "new_pipeline_share": "pipeline created in the trailing lookback window",
            "without_p_hit": without,
        }
    }
