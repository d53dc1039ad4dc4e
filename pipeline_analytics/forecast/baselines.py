"""The naive forecasts leadership sees beside the engine, and the backtest scores it against.

Every method forecasts total bookings per month (month 1 includes what closed before as_of) and
gives a mean and P10/P50/P90 for any run of consecutive months:

- `crm_weighted`: each open deal's amount x its CRM probability, in its expected close month. The
  probability is the CRM's own, else the stage's default probability ([pipeline] probabilities in
  the config); the month is the expected close date known at as_of, else the stage entry plus
  the stage's median time to close of won deals (int_stage_to_close), and an overdue date counts
  as month 1. Bands: each deal won independently with that probability (simulated).
- `run_rate`: the mean of the last three complete months, every month.
- `seasonal_naive`: each month as the same month a year earlier (needs 12 months).
- `ets_bookings`: ETS (by AICc) on monthly bookings, bands from its simulated paths.

The naive methods' P50 is their own number; P10 and P90 scale it by the 10th and 90th percentiles
of actual / forecast over the same run of months from every earlier month-end in the history
(at least MIN_RATIOS of them, else no bands).
Bookings series start at the first month reaching half the median month, so the ramp-up of a
young CRM (deals created before the export began are missing) does not drag them down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_RATIOS = 5
BASELINES = ("crm_weighted", "run_rate", "seasonal_naive", "ets_bookings")


@dataclass(frozen=True)
class Quantiles:
    mean: float | None
    p10: float | None
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Bookings:
    """A forecast of total bookings per month that can be summed over consecutive months."""

    method: str
    window: Callable[[int, int], Quantiles]  # months [first, last) -> quantiles of their sum


def from_paths(method: str, paths: np.ndarray) -> Bookings:
    """A simulated forecast: quantiles of the sum over the months, path by path."""

    def window(first: int, last: int) -> Quantiles:
        total = paths[:, first:last].sum(axis=1)
        p10, p50, p90 = np.percentile(total, [10, 50, 90])
        return Quantiles(float(total.mean()), float(p10), float(p50), float(p90))

    return Bookings(method, window)


def trim_ramp_up(values: np.ndarray) -> np.ndarray:
    """The series from its first month reaching half the median month."""
    if values.size == 0 or np.median(values) <= 0:
        return values
    return values[int(np.argmax(values >= 0.5 * np.median(values))) :]


def run_rate_points(history: np.ndarray, horizon: int) -> np.ndarray | None:
    return np.full(horizon, history[-3:].mean()) if history.size >= 3 else None


def seasonal_naive_points(history: np.ndarray, horizon: int) -> np.ndarray | None:
    return np.resize(history[-12:], horizon) if history.size >= 12 else None


NAIVE_POINTS = {"run_rate": run_rate_points, "seasonal_naive": seasonal_naive_points}


def naive(
    method: str, history: np.ndarray, horizon: int, first_month_remaining: float, closed: float
) -> Bookings | None:
    """A naive method's forecast from the complete months before as_of (oldest first)."""
    points_of = NAIVE_POINTS[method]
    points = points_of(history, horizon)
    if points is None:
        return None
    points = points.copy()
    points[0] *= first_month_remaining

    def window(first: int, last: int) -> Quantiles:
        fact = closed if first == 0 else 0.0
        point = float(points[first:last].sum())
        ratios = []
        for origin in range(1, history.size - last + 1):
            past = points_of(history[:origin], last)
            if past is not None and past[first:last].sum() > 0:
                actual = history[origin + first : origin + last].sum()
                ratios.append(actual / past[first:last].sum())
        if len(ratios) < MIN_RATIOS:
            return Quantiles(fact + point, None, fact + point, None)
        low, high = np.percentile(ratios, [10, 90])
        return Quantiles(fact + point, fact + low * point, fact + point, fact + high * point)

    return Bookings(method, window)
