"""The headline is the method that has earned it: chosen, and its band sized, by the backtest.

The backtest (backtest.py) scores the engine, the baselines and their median combination at past
month-ends (forecast_backtest). A method's score is its WAPE averaged over the horizons scored at
MIN_ORIGINS origins or more, each horizon counting the same (docs/forecasting.md, "How the
headline is chosen"):

- with fewer than MIN_ORIGINS origins, or no backtest, the engine leads (too little to judge);
- the engine leads when its score is below every baseline's;
- otherwise the best baseline leads, or the combination when it scores lower still.

The combination is the per-statistic median (mean, P10, P50 and P90 each) of the engine and the two
baselines with the lowest scores over the whole backtest. Picking those two with the same backtest
that then scores the combination is a mild look-ahead, accepted because the pair is only ever
chosen from two or three candidates and the alternative (a pair per origin from earlier origins
only) leaves the first origins without a combination.

Recalibration: with MIN_SCORED_FORECASTS scored forecasts of the chosen method (rows with an
actual and a P10-P90 band) whose P10-P90 coverage falls outside COVERAGE_RANGE, the half-widths of
the band around P50 are scaled by one factor k, chosen so that round(80 % of them) hold their
actual. The same k then widens (or narrows) the headline's band for every month, quarter and year.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from pipeline_analytics.forecast.baselines import BASELINES, Bookings, Quantiles
from pipeline_analytics.forecast.calendar import add_months
from pipeline_analytics.sql_files import sql_statement

ENGINE = "engine"  # engine.METHOD, repeated so that the backtest can import this module
COMBINATION = "combination"
MIN_ORIGINS = 3
COMBINED_BASELINES = 2
MIN_SCORED_FORECASTS = 12
TARGET_COVERAGE = 0.80
COVERAGE_RANGE = (0.75, 0.85)


@dataclass(frozen=True)
class BacktestRow:
    """One forecast_backtest row: a method's forecast of the h months after an origin."""

    origin: datetime
    horizon_months: int
    method: str
    actual: float
    forecast_mean: float | None
    p10: float | None
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Choice:
    method: str
    reason_code: str
    reason: str
    combined: tuple[str, ...] = ()  # the baselines of the combination


@dataclass(frozen=True)
class BandScale:
    scale: float | None  # None: too few scored forecasts (or none with a band) to resize it
    coverage_before: float | None
    coverage_after: float | None
    scored_forecasts: int


@dataclass(frozen=True)
class Headline:
    """The method the forecast headlines, why, and the band scale from its backtest errors."""

    method: str
    reason_code: str
    reason: str
    origins: int
    wape: dict[str, dict[int, float | None]]
    band: BandScale
    combined: tuple[str, ...] = field(default=())

    def as_config(self) -> dict[str, Any]:
        """forecast_runs.config["headline"], as the report reads it."""
        return {
            "method": self.method,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "origins": self.origins,
            "wape": self.wape,
            "band_scale": self.band.scale,
            "coverage_before": self.band.coverage_before,
            "coverage_after": self.band.coverage_after,
            "scored_forecasts": self.band.scored_forecasts,
        }


# --- scoring ---------------------------------------------------------------------------------


def wape_by_horizon(rows: Iterable[BacktestRow]) -> dict[str, dict[int, float | None]]:
    """Σ|actual - P50| / Σ actual per method and horizon, as the forecast_accuracy view has it."""
    sums: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        if r.p50 is not None:
            total = sums[(r.method, r.horizon_months)]
            total[0] += abs(r.actual - r.p50)
            total[1] += r.actual
    wape: dict[str, dict[int, float | None]] = defaultdict(dict)
    for (method, horizon), (error, actual) in sorted(sums.items()):
        wape[method][horizon] = error / actual if actual else None
    return dict(wape)


def origins_of(rows: Iterable[BacktestRow], method: str = ENGINE) -> int:
    return len({r.origin for r in rows if r.method == method})


def judged_horizons(rows: list[BacktestRow]) -> list[int]:
    """The horizons the engine was scored at from MIN_ORIGINS origins or more.

    The latest origins have only their first months behind them, so the longest horizons can rest
    on one or two origins: too few to judge by.
    """
    counts: dict[int, int] = defaultdict(int)
    for r in rows:
        if r.method == ENGINE and r.p50 is not None:
            counts[r.horizon_months] += 1
    return sorted(h for h, n in counts.items() if n >= MIN_ORIGINS)


def scores(rows: list[BacktestRow]) -> dict[str, float]:
    """Each method's WAPE averaged over the judged horizons; methods scored at every one of them
    from MIN_ORIGINS origins or more only (a baseline needing a year of history may lack some)."""
    horizons = judged_horizons(rows)
    if not horizons:
        return {}
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for r in rows:
        if r.p50 is not None:
            counts[(r.method, r.horizon_months)] += 1
    found = {}
    for method, by_horizon in wape_by_horizon(rows).items():
        values = [by_horizon.get(h) for h in horizons]
        if all(counts[(method, h)] >= MIN_ORIGINS for h in horizons) and None not in values:
            found[method] = sum(v for v in values if v is not None) / len(values)
    return found


def best_baselines(rows: list[BacktestRow], count: int = COMBINED_BASELINES) -> tuple[str, ...]:
    """The `count` baselines with the lowest scores (ties by name), fewer if fewer are scored."""
    scored = scores(rows)
    ranked = sorted((scored[m], m) for m in BASELINES if m in scored)
    return tuple(m for _, m in ranked[:count])


# --- the combination -------------------------------------------------------------------------


def median_of_three(values: list[float | None]) -> float | None:
    """The middle value; None when any is missing (a band is only as known as its weakest)."""
    known = [v for v in values if v is not None]
    return sorted(known)[1] if len(known) == 3 else None


def combination_rows(rows: list[BacktestRow]) -> list[BacktestRow]:
    """The combination at every origin and horizon where the engine and both baselines forecast."""
    combined = best_baselines(rows)
    if len(combined) < COMBINED_BASELINES:
        return []
    members = (ENGINE, *combined)
    by_key = {(r.origin, r.horizon_months, r.method): r for r in rows}
    found = []
    for r in rows:
        if r.method != ENGINE:
            continue
        parts = [by_key.get((r.origin, r.horizon_months, m)) for m in members]
        if any(p is None for p in parts):
            continue
        known = [p for p in parts if p is not None]
        found.append(
            BacktestRow(
                r.origin,
                r.horizon_months,
                COMBINATION,
                r.actual,
                median_of_three([p.forecast_mean for p in known]),
                median_of_three([p.p10 for p in known]),
                median_of_three([p.p50 for p in known]),
                median_of_three([p.p90 for p in known]),
            )
        )
    return found


def median_bookings(members: list[Bookings]) -> Bookings:
    """The per-statistic median of three forecasts, for any run of consecutive months."""

    def window(first: int, last: int) -> Quantiles:
        parts = [m.window(first, last) for m in members]
        return Quantiles(
            *(
                median_of_three([getattr(q, stat) for q in parts])
                for stat in ("mean", "p10", "p50", "p90")
            )
        )

    return Bookings(COMBINATION, window)


# --- the decision ----------------------------------------------------------------------------


def choose(rows: list[BacktestRow], available: Collection[str]) -> Choice:
    """The headline method from the backtest rows of the engine and the baselines.

    `available` are the methods the forecast being stored has; a method it cannot produce now
    (a baseline lacking history at as_of) cannot lead.
    """
    origins = origins_of(rows)
    if not rows or origins == 0:
        return Choice(
            ENGINE,
            "no_backtest",
            "No backtest window that ended by this forecast's as_of is stored (a backtest "
            "needs six months of history before a month-end), so the engine is the headline.",
        )
    scored = scores(rows)
    if origins < MIN_ORIGINS:
        return Choice(
            ENGINE,
            "too_few_origins",
            f"The backtest has {origins} origin(s) with actual bookings to score, fewer than "
            f"the {MIN_ORIGINS} needed to compare methods, so the engine is the headline.",
        )
    if ENGINE not in scored:  # nothing was booked in the windows it forecast: no WAPE
        return Choice(
            ENGINE,
            "too_few_origins",
            f"No horizon of the backtest has {MIN_ORIGINS} origins with bookings to score the "
            "engine against, so the engine is the headline.",
        )
    horizons = judged_horizons(rows)
    over = f"mean WAPE over horizons {horizons[0]}-{horizons[-1]}"
    if len(horizons) == 1:
        over = f"WAPE at horizon {horizons[0]}"
    engine = scored[ENGINE]
    baselines = {m: s for m, s in scored.items() if m in BASELINES and m in available}
    if not baselines or engine < min(baselines.values()):
        versus = (
            f", best baseline {_best(baselines)} {baselines[_best(baselines)]:.1%}"
            if baselines
            else ", no baseline scored"
        )
        return Choice(
            ENGINE,
            "engine_best",
            f"The engine beats every baseline over {origins} backtest origins "
            f"({over}: {engine:.1%}{versus}), so it is the headline.",
        )
    best = _best(baselines)
    combined = best_baselines(rows)
    combination = scores([*rows, *combination_rows(rows)]).get(COMBINATION)
    if (
        combination is not None
        and combination < baselines[best]
        and all(m in available for m in combined)
    ):
        return Choice(
            COMBINATION,
            "combination_best",
            f"The median of the engine, {combined[0]} and {combined[1]} scores best over "
            f"{origins} backtest origins ({over}: {combination:.1%}, against {best} "
            f"{baselines[best]:.1%} and the engine {engine:.1%}), so it is the headline.",
            combined,
        )
    versus = "" if combination is None else f", the combination {combination:.1%}"
    return Choice(
        best,
        "baseline_best",
        f"{best} scores best over {origins} backtest origins ({over}: {baselines[best]:.1%}, "
        f"against the engine {engine:.1%}{versus}), so it is the headline.",
    )


def _best(scored: dict[str, float]) -> str:
    return min(scored, key=lambda m: (scored[m], m))


# --- the band --------------------------------------------------------------------------------


def scaled_band(q: Quantiles, scale: float | None) -> Quantiles:
    """P10 and P90 moved to P50 -/+ scale x their distance from it; P50 and the mean stay."""
    if scale is None or scale == 1.0 or None in (q.p10, q.p50, q.p90):
        return q
    assert q.p10 is not None and q.p50 is not None and q.p90 is not None
    return Quantiles(
        q.mean, q.p50 - scale * (q.p50 - q.p10), q.p50, q.p50 + scale * (q.p90 - q.p50)
    )


def scaled_bookings(bookings: Bookings, scale: float | None) -> Bookings:
    return Bookings(
        bookings.method, lambda first, last: scaled_band(bookings.window(first, last), scale)
    )


def needed_scale(r: BacktestRow) -> float:
    """The smallest scale at which the row's band holds its actual (inf: a zero-width side)."""
    assert r.p10 is not None and r.p50 is not None and r.p90 is not None
    miss, half_width = (
        (r.actual - r.p50, r.p90 - r.p50)
        if r.actual >= r.p50
        else (r.p50 - r.actual, r.p50 - r.p10)
    )
    if miss <= 0:
        return 0.0
    return miss / half_width if half_width > 0 else math.inf


def coverage(rows: list[BacktestRow], scale: float = 1.0) -> float:
    """The share of actuals inside the (scaled) P10-P90 band, bounds included."""
    held = 0
    for r in rows:
        band = scaled_band(Quantiles(None, r.p10, r.p50, r.p90), scale)
        assert band.p10 is not None and band.p90 is not None
        held += band.p10 <= r.actual <= band.p90
    return held / len(rows)


def recalibrate(rows: list[BacktestRow]) -> BandScale:
    """The band scale that brings the backtest's P10-P90 coverage into COVERAGE_RANGE.

    With n scored forecasts, m = round(0.8 n) of them should hold their actual (for n >= 12 that
    share always lies in 75-85 %). Sorting the scale each forecast needs, k is midway between the
    m-th and the next one, so exactly m hold (ties aside) and no bound sits on an actual.
    """
    scored = [r for r in rows if None not in (r.p10, r.p50, r.p90)]
    n = len(scored)
    if not n:
        return BandScale(None, None, None, 0)
    before = coverage(scored)
    if n < MIN_SCORED_FORECASTS:
        return BandScale(None, before, None, n)
    low, high = COVERAGE_RANGE
    if low <= before <= high:
        return BandScale(1.0, before, before, n)
    needed = sorted(needed_scale(r) for r in scored)
    m = round(TARGET_COVERAGE * n)
    scale = needed[m - 1]
    if m < n and math.isfinite(needed[m]):
        scale = (needed[m - 1] + needed[m]) / 2
    if not math.isfinite(scale):
        return BandScale(None, before, None, n)
    return BandScale(scale, before, coverage(scored, scale), n)


# --- reading the backtest --------------------------------------------------------------------


def read_backtest(con: duckdb.DuckDBPyConnection, as_of: datetime) -> list[BacktestRow]:
    """The stored backtest of the engine and the baselines, windows that ended by as_of only.

    A forecast from a past as_of is thus chosen with what was known then. Stored combination
    rows are left out: the combination is recomputed from the rows kept, so its baselines are
    those that were best by as_of.
    """
    found = con.execute(
        sql_statement("forecast/backtest_rows"), {"combination": COMBINATION}
    ).fetchall()
    rows = [BacktestRow(*row) for row in found]
    return [
        r
        for r in rows
        if datetime.combine(add_months(r.origin.date(), r.horizon_months), datetime.min.time())
        <= as_of
    ]


def choose_headline(
    con: duckdb.DuckDBPyConnection, as_of: datetime, available: Collection[str]
) -> Headline:
    """The headline of a forecast as of `as_of` whose methods are `available`."""
    rows = read_backtest(con, as_of)
    choice = choose(rows, available)
    candidates = [*rows, *combination_rows(rows)]
    return Headline(
        method=choice.method,
        reason_code=choice.reason_code,
        reason=choice.reason,
        origins=origins_of(rows),
        wape=wape_by_horizon(candidates),
        band=recalibrate([r for r in candidates if r.method == choice.method]),
        combined=choice.combined,
    )


def headline_bookings(
    headline: Headline, engine: Bookings, crosschecks: dict[str, Bookings]
) -> Bookings:
    """The chosen method's total bookings, its band scaled by the backtest's errors."""
    if headline.method == ENGINE:
        chosen = engine
    elif headline.method == COMBINATION:
        chosen = median_bookings([engine, *(crosschecks[m] for m in headline.combined)])
    else:
        chosen = crosschecks[headline.method]
    return scaled_bookings(chosen, headline.band.scale)
