"""Bookings from deals not yet created: created pipeline forecast, then converted to wins.

1. The amount of pipeline created per month is forecast from the complete months before as_of
   (timeseries.forecast_series: ETS and Theta averaged, with simulated paths). Month 1 gets the
   share of it still ahead of as_of.
2. The historical create->won conversion: the amount-weighted cumulative incidence G(t) of being
   won within t days of creation, lost competing and still-open deals censored (outcomes.
   won_incidence over every deal created by as_of). It holds both the rate and the lag.
3. A deal created at time x (days after as_of) is won in month m with probability
   G(end_m - x) - G(start_m - x); creation is spread evenly over each month (CREATION_POINTS per
   month), so pipeline created in month c books the expected share pi[c, m] in month m.
4. Simulated: per simulation and month, the number of won deals is Poisson with mean (expected
   bookings / mean won amount), and their amounts (and deal types, for cash flow) are drawn from
   the deals won in the trailing lookback window. Above EXACT_DRAWS_MAX deals in one cell the sum
   of their amounts is drawn from its normal approximation instead (the central limit theorem
   holds well by then), so huge pipelines stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from pipeline_analytics.forecast.calendar import MonthGrid
from pipeline_analytics.forecast.outcomes import StepFunction
from pipeline_analytics.forecast.timeseries import SeriesForecast, forecast_series

CREATION_POINTS = 8
EXACT_DRAWS_MAX = 100


@dataclass(frozen=True)
class WonPool:
    """Deals won in the trailing window: the amounts (and cash-flow groups) new wins resemble."""

    amount: np.ndarray
    group: np.ndarray


@dataclass(frozen=True)
class NewPipeline:
    created: SeriesForecast
    share_booked: np.ndarray  # pi: (H created months, H booking months)
    bookings: np.ndarray  # (simulations, groups, H)


def conversion_shares(grid: MonthGrid, won_by: StepFunction) -> np.ndarray:
    """pi[c, m]: share of the pipeline created in forecast month c that is won in month m."""
    horizon = grid.horizon
    share = np.zeros((horizon, horizon))
    fractions = (np.arange(CREATION_POINTS) + 0.5) / CREATION_POINTS
    for c in range(horizon):
        created_at = grid.start_days[c] + fractions * (grid.end_days[c] - grid.start_days[c])
        after_end = grid.end_days[None, :] - created_at[:, None]
        after_start = grid.start_days[None, :] - created_at[:, None]
        won = won_by(np.clip(after_end, 0.0, None)) - won_by(np.clip(after_start, 0.0, None))
        share[c] = np.where(after_end > 0, won, 0.0).mean(axis=0)
    return share


def forecast_new_pipeline(
    created_history: np.ndarray,
    first_month: date,
    grid: MonthGrid,
    won_by: StepFunction,
    pool: WonPool,
    n_groups: int,
    simulations: int,
    seed: int,
    created_factor: float = 1.0,
    added_created: np.ndarray | None = None,
) -> NewPipeline:
    """Simulated bookings per simulation, group and month from deals created after as_of.

    created_factor and added_created (per whole forecast month) change the created pipeline for
    a what-if scenario (scenarios.py); the defaults leave it as forecast."""
    seeds = np.random.SeedSequence(seed).spawn(2)
    created = forecast_series(
        created_history,
        first_month,
        grid.horizon,
        simulations,
        int(seeds[0].generate_state(1)[0]),
        with_theta=True,
    )
    created_paths = created.paths * created_factor
    if added_created is not None:
        created_paths += added_created[None, :]
    created_paths[:, 0] *= grid.first_month_remaining
    share = conversion_shares(grid, won_by)
    expected = created_paths @ share  # (simulations, H) expected booked amount
    bookings = _draw_wins(expected, pool, n_groups, np.random.default_rng(seeds[1]))
    return NewPipeline(created, share, bookings)


def _draw_wins(
    expected: np.ndarray, pool: WonPool, n_groups: int, rng: np.random.Generator
) -> np.ndarray:
    simulations, horizon = expected.shape
    bookings = np.zeros((simulations, n_groups, horizon))
    amounts = np.nan_to_num(pool.amount)
    if amounts.size == 0 or amounts.mean() <= 0:
        return bookings  # no won deals to learn amounts from: nothing converts
    mean_amount = amounts.mean()
    wins = rng.poisson(expected / mean_amount)
    exact = wins <= EXACT_DRAWS_MAX
    # Exact: draw each won deal from the pool.
    cells = np.repeat(np.flatnonzero(exact), wins[exact])
    picks = rng.integers(0, amounts.size, cells.size)
    sim, month = np.divmod(cells, horizon)
    np.add.at(bookings, (sim, pool.group[picks], month), amounts[picks])
    # Large cells: the sum of `wins` draws is about normal; split by the pool's group shares.
    if (~exact).any():
        n = wins[~exact]
        total = rng.normal(n * mean_amount, np.sqrt(n) * amounts.std())
        group_share = np.bincount(pool.group, weights=amounts, minlength=n_groups)
        group_share /= group_share.sum()
        sim, month = np.divmod(np.flatnonzero(~exact), horizon)
        bookings[sim, :, month] += np.clip(total, 0.0, None)[:, None] * group_share[None, :]
    return bookings
