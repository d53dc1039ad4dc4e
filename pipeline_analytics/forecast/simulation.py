"""Joint Monte Carlo of open deals: which are won, and in which month, in every simulation.

Each deal belongs to an outcome class: a vector of probabilities of being won in forecast month
1..H (the rest: not won within the horizon). Deals are independent given their class, so one
uniform draw per deal and simulation decides its outcome; summing the won amounts per simulation
gives totals whose percentiles are those of the joint outcome, not sums of per-deal percentiles.

The draw is a 16-bit uniform looked up in a 65,536-entry table per class (outcome probabilities
rounded to 1/65,536). Work is split into tiles of deals sharing a class and a cash-flow group,
each with its own random stream derived from the seed and its position, so the result does not
depend on how many threads run the tiles. A deal's segment (the owner or pipeline a bookings
target follows) only routes its wins to that segment's totals inside its tile: segments never
change which draws a deal gets, so adding a target leaves every total as it was. Amounts are
summed in whole cents, which float64 adds exactly, so the totals do not depend on the order of the
sums either: same seed, same numbers. Memory stays bounded: a tile holds at most TILE_ELEMENTS
draws.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

LEVELS = 65_536
# Tiles whose chance of a win within the horizon is below this handle only the winning draws
# (cheaper when few win); the others look every draw up (cheaper when many win).
SPARSE_BELOW = 0.45
TILE_ELEMENTS = 1 << 21
MAX_THREADS = 8


@dataclass(frozen=True)
class OpenDeals:
    """The deals to simulate: amount, outcome class, cash-flow group and target segment of each
    (segment None: one segment)."""

    amount: np.ndarray
    outcome_class: np.ndarray
    group: np.ndarray
    segment: np.ndarray | None = None


def outcome_tables(cumulative: np.ndarray) -> np.ndarray:
    """Per class, the outcome code (0..H-1 = won in that month, H = not won) of each 16-bit level.

    cumulative: (classes, H), P(won by the end of month k), non-decreasing along k.
    """
    if cumulative.shape[0] == 0:
        return np.zeros((0, LEVELS), dtype=np.uint8)
    thresholds = np.round(np.clip(cumulative, 0.0, 1.0) * LEVELS).astype(np.intp)
    # Levels in [threshold[k-1], threshold[k]) have code k: each table is runs of codes 0..H.
    run_lengths = np.diff(thresholds, axis=1, prepend=0, append=LEVELS)
    codes = np.arange(cumulative.shape[1] + 1, dtype=np.uint8)
    return np.stack([np.repeat(codes, lengths) for lengths in run_lengths])


def simulate_open_deals(
    deals: OpenDeals,
    cumulative: np.ndarray,
    n_groups: int,
    simulations: int,
    seed: int,
    threads: int | None = None,
    n_segments: int = 1,
) -> np.ndarray:
    """Won amounts per simulation, cash-flow group and month: shape (simulations, groups, H); with
    segments, per group and segment: (simulations, groups * n_segments, H), group-major."""
    horizon = cumulative.shape[1]
    segment = np.zeros(deals.amount.size, np.intp) if deals.segment is None else deals.segment
    cents = np.round(np.nan_to_num(deals.amount) * 100.0)
    possible = (cents > 0) & (cumulative[deals.outcome_class, -1] > 0)
    index = np.flatnonzero(possible)
    order = index[np.lexsort((index, deals.group[index], deals.outcome_class[index]))]
    tiles = _tiles(deals.outcome_class[order], deals.group[order], simulations)
    tables = outcome_tables(cumulative)
    # Levels below this are won within the horizon (the table is non-decreasing in the level).
    won_levels = (tables < horizon).sum(axis=1)
    bins = simulations * (horizon + 1)
    # Each simulation's block of outcome bins, within the block of the tile's group.
    sim_offset = np.arange(simulations, dtype=np.intp) * (horizon + 1)

    def run(tile_range: range) -> np.ndarray:
        totals = np.zeros((n_groups * n_segments, bins))
        for k in tile_range:
            lo, hi = tiles[k]
            rows = order[lo:hi]
            outcome_class = deals.outcome_class[rows[0]]
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(k,))))
            n = rows.size * simulations
            raw = rng.integers(0, 2**64 - 1, (n + 3) // 4, dtype=np.uint64, endpoint=True)
            draws = raw.view(np.uint16)[:n].reshape(rows.size, simulations)
            if n_segments > 1:
                # Each deal keeps its row of draws; the tile's deals are only regrouped by segment.
                by_segment = np.argsort(segment[rows], kind="stable")
                rows, draws = rows[by_segment], draws[by_segment]
            cuts = np.flatnonzero(np.diff(segment[rows])) + 1
            for lo_row, hi_row in zip(np.r_[0, cuts], np.r_[cuts, rows.size], strict=True):
                part = rows[lo_row:hi_row]
                won = won_cents(draws[lo_row:hi_row], cents[part], outcome_class)
                totals[deals.group[part[0]] * n_segments + segment[part[0]]] += won
        return totals

    def won_cents(draws: np.ndarray, amounts: np.ndarray, outcome_class: int) -> np.ndarray:
        """Won cents per (simulation, outcome) bin of deals of one class, a row of draws each."""
        if won_levels[outcome_class] < SPARSE_BELOW * LEVELS:
            level, table = won_levels[outcome_class], tables[outcome_class]
            key, wins_per_deal = _won_draws(draws, level, table, horizon)
            weight = np.repeat(amounts, wins_per_deal)
        else:
            key = np.add(
                np.take(tables[outcome_class], draws.astype(np.intp)), sim_offset, dtype=np.intp
            ).ravel()
            weight = np.repeat(amounts, simulations)
        return np.bincount(key, weights=weight, minlength=bins)

    workers = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS, len(tiles)))
    parts = _split(tiles, workers)
    if workers == 1:
        totals = run(parts[0])
    else:
        with ThreadPoolExecutor(workers) as pool:
            totals = sum(pool.map(run, parts), np.zeros((n_groups * n_segments, bins)))
    by_group = totals.reshape(n_groups * n_segments, simulations, horizon + 1)[:, :, :horizon]
    return by_group.transpose(1, 0, 2) / 100.0


def _won_draws(
    draws: np.ndarray, won_level: int, table: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bin keys of the draws below won_level (the wins), and how many wins each deal (row) has."""
    won = draws < won_level
    per_deal = np.count_nonzero(won, axis=1)
    position = np.flatnonzero(won)
    key = position - np.repeat(np.arange(draws.shape[0]) * draws.shape[1], per_deal)
    key *= horizon + 1  # the simulation's block of bins
    key += table[draws.ravel()[position]]  # the month won in
    return key, per_deal


def _tiles(outcome_class: np.ndarray, group: np.ndarray, simulations: int) -> list[tuple[int, int]]:
    """Runs of deals sharing class and group, cut so no tile holds more than TILE_ELEMENTS draws."""
    per_tile = max(1, TILE_ELEMENTS // simulations)
    n = outcome_class.size
    change = np.flatnonzero((np.diff(outcome_class) != 0) | (np.diff(group) != 0)) + 1
    starts, ends = np.r_[0, change], np.r_[change, n]
    return [
        (lo, min(lo + per_tile, end))
        for start, end in zip(starts, ends, strict=True)
        for lo in range(start, end, per_tile)
        if n
    ]


def _split(tiles: list[tuple[int, int]], workers: int) -> list[range]:
    """Contiguous ranges of tiles with about equal numbers of deals, one per worker."""
    if not tiles:
        return [range(0)]
    sizes = np.cumsum([hi - lo for lo, hi in tiles])
    cuts = np.searchsorted(sizes, sizes[-1] * np.arange(1, workers) / workers, side="left")
    bounds = [0, *(int(c) + 1 for c in cuts), len(tiles)]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a] or [
        range(0)
    ]
