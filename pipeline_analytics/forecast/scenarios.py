"""What-if scenarios ([scenarios.NAME], docs/forecasting.md "What-if scenarios") inside the one
simulation of the engine.

A scenario changes the engine's inputs, never its method, and runs with the base run's seed
(common random numbers), so the difference between a scenario and the base is the scenario's,
not sampling noise:
- win_rate_factor f: every open deal's cumulative chance of being won by each month is multiplied
  by f (capped at 1), and so is new pipeline's create-to-won share G(t);
- cycle_factor c: time to close is stretched: a deal won t days from now in the base is won c x t
  days from now (an open deal's curve is read at month end / c; new pipeline's G(t) becomes
  G(t / c));
- new_pipeline_factor: pipeline created per month is multiplied by it;
- amount_factor: open deals' amounts and new pipeline's bookings are multiplied by it;
- exclude_deals: those deals are left out of the open pipeline;
- added_reps with ramp_months: reps hired at as_of; in forecast month k (1, 2, ...) each creates
  min(k / ramp_months, 1) x the median rep's monthly pipeline creation (the whole of it from
  month 1 when ramp_months is 0), converted like the rest of the new pipeline.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline_analytics.config import Scenario
from pipeline_analytics.forecast.outcomes import StepFunction


def scaled_win_curves(cumulative: np.ndarray, scenario: Scenario) -> np.ndarray:
    """Each class's P(won by the end of month k) times win_rate_factor, at most 1."""
    return np.minimum(cumulative * scenario.win_rate_factor, 1.0)


def stretched_month_ends(end_days: np.ndarray, scenario: Scenario) -> np.ndarray:
    """The days at which the base curves are read: won by day t with the cycle stretched by c is
    won by day t / c in the base."""
    return end_days / scenario.cycle_factor


def adjusted_conversion(won_by: StepFunction, scenario: Scenario) -> StepFunction:
    """New pipeline's create-to-won share G(t), as G(t / c) x f capped at 1."""
    return StepFunction(
        won_by.time * scenario.cycle_factor,
        np.minimum(won_by.value * scenario.win_rate_factor, 1.0),
    )


def ramp(ramp_months: int, horizon: int) -> np.ndarray:
    """A new rep's share of the median rep's monthly creation in each forecast month."""
    month = np.arange(1, horizon + 1, dtype=float)
    return np.ones(horizon) if ramp_months == 0 else np.minimum(month / ramp_months, 1.0)


def added_created_pipeline(
    scenario: Scenario, median_rep_monthly: float | None, horizon: int
) -> np.ndarray:
    """Pipeline the added reps create in each forecast month (whole months; the engine takes the
    share of month 1 still ahead of as_of, as for the rest of the created pipeline)."""
    if not scenario.added_reps or not median_rep_monthly:
        return np.zeros(horizon)
    return scenario.added_reps * median_rep_monthly * ramp(scenario.ramp_months, horizon)


def without_excluded(open_deals: pl.DataFrame, scenario: Scenario) -> tuple[np.ndarray, list[str]]:
    """Which open deals the scenario keeps (a mask in their order), and the excluded ids that are
    no open deal at as_of."""
    ids = open_deals["deal_id"].cast(pl.String)
    if not scenario.exclude_deals:
        return np.ones(open_deals.height, dtype=bool), []
    wanted = list(scenario.exclude_deals)
    present = set(ids.to_list())
    unknown = [d for d in wanted if d not in present]
    return ~ids.is_in(wanted).to_numpy(), unknown
