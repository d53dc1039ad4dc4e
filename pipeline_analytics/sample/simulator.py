"""A deterministic simulator of a B2B sales pipeline, the source of the bundled sample data.

Every deal enters at the first open stage and then moves through an absorbing Markov chain: at each
open stage it advances (sometimes two stages at once), falls back one stage, or is lost, after a
log-normal time in the stage. Reps, lead sources and deal types shift the odds of advancing. Because
the process is known, `truth.json` can state the exact metric values the warehouse should recover.

While a deal sits in an open stage its rep logs activities (calls, emails, meetings, demos) as a
Poisson process with a per-stage daily rate. Activities come from their own random stream, so adding
them left deals.csv and stage_history.csv exactly as they were.

All deals step through the chain together, one array operation per step, so a million deals take
seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipeline_analytics import spreadsheet

OPEN_STAGES = ("Prospecting", "Qualification", "Discovery meeting", "Proposal", "Negotiation")
WON_STAGE = "Won"
LOST_STAGE = "Lost"
CURRENCY = "USD"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# Stage codes: 1..5 are the open stages in order, then Won (one past the last open stage) and Lost.
# Per-stage parameter arrays are indexed by code, so index 0 and the terminal slots are padding.
N_OPEN = len(OPEN_STAGES)
LOST_CODE = N_OPEN + 2
STAGE_NAMES_BY_CODE = ("", *OPEN_STAGES, WON_STAGE, LOST_STAGE)


def _by_code(values: tuple[float, ...]) -> np.ndarray:
    return np.array([0.0, *values, 0.0, 0.0])


# Of the deals that leave a stage without falling back, the share that moves forward (for an average
# rep, source and deal type); the rest are lost. Proposal is deliberately the bottleneck.
ADVANCE_SHARE = _by_code((0.70, 0.74, 0.76, 0.50, 0.80))
# Chance of falling back one stage; only from the third stage on.
REGRESS_PROBABILITY = _by_code((0.0, 0.0, 0.04, 0.07, 0.05))
# Share of forward moves that jump two stages (never past Negotiation).
SKIP_SHARE = _by_code((0.04, 0.04, 0.04, 0.0, 0.0))
MEDIAN_DAYS = _by_code((8.0, 13.0, 17.0, 22.0, 15.0))
DURATION_SIGMA = _by_code((0.6, 0.65, 0.7, 0.75, 0.6))
# Deals that end up lost linger before someone marks them lost.
LOSS_DURATION_FACTOR = 1.6
WORST_STAGE = "Proposal"

# Reps: (name, skill, relative load). Skill multiplies the odds of advancing at every stage.
REPS = (
    ("Avery Chen", 1.10, 3.0),
    ("Bruno Okafor", 0.85, 2.6),
    ("Carla Mendes", 1.25, 2.2),
    ("Dmitri Volkov", 0.95, 2.0),
    ("Elena Rossi", 1.00, 1.8),
    ("Farah Haddad", 1.15, 1.5),
    ("Gustav Berg", 0.80, 1.3),
    ("Hana Sato", 1.05, 1.2),
    ("Ivan Petrov", 0.90, 1.0),
    ("Julia Novak", 1.20, 1.0),
)
# Lead sources: (name, quality as an odds multiplier, share of deals).
LEAD_SOURCES = (
    ("Inbound", 1.15, 0.30),
    ("Outbound", 0.75, 0.25),
    ("Referral", 1.45, 0.12),
    ("Paid", 0.90, 0.18),
    ("Events", 1.00, 0.15),
)
# Deal types: (name, odds multiplier, share of deals, amount multiplier).
DEAL_TYPES = (
    ("New Business", 1.0, 0.60, 1.0),
    ("Expansion", 1.3, 0.25, 0.7),
    ("Renewal", 1.8, 0.15, 0.9),
)
AMOUNT_MEDIAN = 22_000.0
AMOUNT_SIGMA = 0.8

# Deal creation: monthly seasonality (strong quarter ends, weak summer), steady growth, quiet
# weekends, created during office hours.
MONTHLY_SEASONALITY = (1.0, 0.95, 1.15, 1.0, 1.05, 1.15, 0.8, 0.7, 1.1, 1.05, 1.0, 1.1)
ANNUAL_GROWTH = 0.20
WEEKEND_FACTOR = 0.1
OFFICE_HOURS = (8.0, 18.0)
# Reps set an expected close date from the typical remaining time, with this log-normal spread.
EXPECTED_CLOSE_SIGMA = 0.35

# Activities per day while a deal sits in each open stage, and the mix of activity types there.
ACTIVITY_RATE_PER_DAY = _by_code((0.06, 0.08, 0.10, 0.10, 0.12))
ACTIVITY_TYPES = ("Call", "Email", "Meeting", "Demo")
ACTIVITY_TYPE_SHARES = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],  # padding for stage code 0
        [0.45, 0.50, 0.05, 0.00],  # Prospecting
        [0.40, 0.40, 0.20, 0.00],  # Qualification
        [0.25, 0.30, 0.30, 0.15],  # Discovery meeting
        [0.20, 0.40, 0.25, 0.15],  # Proposal
        [0.30, 0.40, 0.30, 0.00],  # Negotiation
    ]
)
# Entropy added to the seed for the activities' random stream (independent of the deals' stream).
ACTIVITY_STREAM = 1

ACCOUNT_PREFIXES = (
    "Amber", "Birch", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Indigo", "Juniper",
    "Kestrel", "Lumen", "Meridian", "Northwind", "Orchid", "Pinnacle", "Quarry", "Redwood",
    "Summit", "Tidewater", "Umber", "Vantage", "Willow", "Zenith",
)  # fmt: skip
ACCOUNT_INDUSTRIES = (
    "Analytics", "Logistics", "Foods", "Health", "Energy", "Robotics", "Textiles", "Media",
    "Pharma", "Finance", "Motors", "Software", "Retail", "Marine", "Biotech", "Telecom",
    "Insurance", "Metals", "Aerospace", "Hospitality",
)  # fmt: skip
ACCOUNT_POOL = tuple(
    f"{prefix} {industry}" for prefix in ACCOUNT_PREFIXES for industry in ACCOUNT_INDUSTRIES
)


@dataclass(frozen=True)
class SimulatedPipeline:
    """The simulated CRM export (as written to CSV) and the generating truth."""

    deals: pl.DataFrame
    stage_history: pl.DataFrame
    activities: pl.DataFrame
    truth: dict[str, Any]


@dataclass(frozen=True)
class _Population:
    """Per-deal attributes drawn at creation; indices point into REPS, LEAD_SOURCES, DEAL_TYPES."""

    created_days: np.ndarray
    rep: np.ndarray
    lead_source: np.ndarray
    deal_type: np.ndarray
    log_odds_shift: np.ndarray
    amount: np.ndarray
    account: np.ndarray


@dataclass(frozen=True)
class _Trajectories:
    """Recorded stage entries (in per-deal time order) and each deal's state at the horizon."""

    event_deal: np.ndarray
    event_stage: np.ndarray
    event_days: np.ndarray
    final_stage: np.ndarray
    last_event_days: np.ndarray


def transition_probabilities(
    stage: np.ndarray, log_odds_shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chances (advance one stage, skip one stage, regress one stage) when leaving `stage`.

    The rest is the chance of being lost. `log_odds_shift` is log(rep skill × lead source quality ×
    deal type multiplier): it moves the odds of advancing against being lost; regression ignores it.
    """
    regress = REGRESS_PROBABILITY[stage]
    base_logit = np.log(ADVANCE_SHARE[stage] / (1.0 - ADVANCE_SHARE[stage]))
    forward = (1.0 - regress) / (1.0 + np.exp(-(base_logit + log_odds_shift)))
    skip = forward * SKIP_SHARE[stage]
    return forward - skip, skip, regress


def simulate(
    n_deals: int, seed: int, end: date = date(2026, 10, 31), years: float = 3.0
) -> SimulatedPipeline:
    """Simulate `n_deals` deals created over `years` years up to and including the day `end`.

    Deals whose next stage change would fall after `end` are still open at `end`. Same arguments,
    same frames.
    """
    rng = np.random.default_rng(seed)
    n_days = round(years * 365.25)
    start = end + timedelta(days=1) - timedelta(days=n_days)
    start_epoch = (start - date(1970, 1, 1)).days * 86_400
    population = _draw_population(rng, n_deals, start, n_days)
    trajectories = _run_stage_process(rng, population, horizon_days=float(n_days))
    expected_close_days = _expected_close_days(rng, trajectories)
    activity_rng = np.random.default_rng([seed, ACTIVITY_STREAM])
    return SimulatedPipeline(
        deals=_deals_frame(population, trajectories, expected_close_days, start_epoch),
        stage_history=_history_frame(trajectories, start_epoch, n_deals),
        activities=_activities_frame(
            activity_rng, population, trajectories, float(n_days), start_epoch
        ),
        truth=_truth(seed, n_deals, end, years),
    )


def write_sample(out_dir: Path, n_deals: int, seed: int) -> None:
    """Write deals.csv, stage_history.csv, activities.csv and truth.json into `out_dir`.

    deals.csv also carries each deal's forecast category (sample/calls.py, its own random stream).
    """
    # calls.py reads this module's constants, so it is imported here, not at the top.
    from pipeline_analytics.sample.calls import current_calls

    pipeline = simulate(n_deals, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    deals = pipeline.deals.join(current_calls(pipeline), on="opportunity_id", how="left")
    spreadsheet.write_csv(
        deals.sort("opportunity_id"),
        out_dir / "deals.csv",
        datetime_format=TIMESTAMP_FORMAT,
        float_precision=2,
    )
    spreadsheet.write_csv(
        pipeline.stage_history, out_dir / "stage_history.csv", datetime_format=TIMESTAMP_FORMAT
    )
    spreadsheet.write_csv(
        pipeline.activities, out_dir / "activities.csv", datetime_format=TIMESTAMP_FORMAT
    )
    (out_dir / "truth.json").write_text(
        json.dumps(pipeline.truth, indent=2) + "\n", encoding="utf-8"
    )


def absorption_probabilities(log_odds_shift: np.ndarray) -> np.ndarray:
    """Exact final outcomes of a deal entering the first stage, for each given log-odds shift.

    Returns shape (len(log_odds_shift), 1 + number of open stages): column 0 is P(won), column m is
    P(lost with highest stage m). Solved as an absorbing Markov chain whose transient states are
    (current stage, highest stage so far), since a loss counts at the highest stage reached.
    """
    states = [
        (current, highest) for highest in range(1, N_OPEN + 1) for current in range(1, highest + 1)
    ]
    index = {state: i for i, state in enumerate(states)}
    n_types, n_states = log_odds_shift.size, len(states)
    transient = np.zeros((n_types, n_states, n_states))
    absorbing = np.zeros((n_types, n_states, 1 + N_OPEN))
    for (current, highest), i in index.items():
        stage = np.full(n_types, current)
        advance, skip, regress = transition_probabilities(stage, log_odds_shift)
        if current == N_OPEN:
            absorbing[:, i, 0] += advance
        else:
            transient[:, i, index[(current + 1, max(highest, current + 1))]] += advance
        if SKIP_SHARE[current] > 0:
            transient[:, i, index[(current + 2, max(highest, current + 2))]] += skip
        if REGRESS_PROBABILITY[current] > 0:
            transient[:, i, index[(current - 1, highest)]] += regress
        absorbing[:, i, highest] += 1.0 - advance - skip - regress
    outcomes = np.linalg.solve(np.eye(n_states) - transient, absorbing)
    return outcomes[:, index[(1, 1)], :]


def stage_metrics(outcomes: np.ndarray) -> dict[str, dict[str, float]]:
    """Conversion and win rate from each open stage, given P(won), P(lost at stage 1..n).

    Per the counting rules: a deal reached stage s if its highest stage is >= s (a won deal reached
    all); conversion_rate = advanced / (advanced + lost_here); win_rate_from_stage = won / (won +
    lost), both among deals that reached s.
    """
    won, lost_at = outcomes[0], outcomes[1:]
    lost_from = np.cumsum(lost_at[::-1])[::-1]  # lost with highest stage >= s
    metrics = {}
    for s, name in enumerate(OPEN_STAGES):
        advanced = won + (lost_from[s + 1] if s + 1 < N_OPEN else 0.0)
        metrics[name] = {
            "true_conversion_rate": float(advanced / (advanced + lost_at[s])),
            "true_win_rate_from_stage": float(won / (won + lost_from[s])),
        }
    return metrics


def _population_shares() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rep_load = np.array([load for _, _, load in REPS])
    return (
        rep_load / rep_load.sum(),
        np.array([share for *_, share in LEAD_SOURCES]),
        np.array([t[2] for t in DEAL_TYPES]),
    )


def _creation_day_weights(start: date, n_days: int) -> np.ndarray:
    days = np.datetime64(start, "D") + np.arange(n_days)
    month_index = days.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weights = (
        np.asarray(MONTHLY_SEASONALITY)[month_index]
        * (1.0 + ANNUAL_GROWTH) ** (np.arange(n_days) / 365.25)
        * np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)
    )
    return weights / weights.sum()


def _log_odds_shift(rep: np.ndarray, lead_source: np.ndarray, deal_type: np.ndarray) -> np.ndarray:
    return (
        np.log([skill for _, skill, _ in REPS])[rep]
        + np.log([quality for _, quality, _ in LEAD_SOURCES])[lead_source]
        + np.log([t[1] for t in DEAL_TYPES])[deal_type]
    )


def _draw_population(
    rng: np.random.Generator, n_deals: int, start: date, n_days: int
) -> _Population:
    day = rng.choice(n_days, size=n_deals, p=_creation_day_weights(start, n_days))
    hour = rng.uniform(*OFFICE_HOURS, size=n_deals)
    # Sorted so that opportunity ids follow creation order.
    created_days = np.sort(day + hour / 24.0)
    rep_share, source_share, type_share = _population_shares()
    rep = rng.choice(len(REPS), size=n_deals, p=rep_share)
    lead_source = rng.choice(len(LEAD_SOURCES), size=n_deals, p=source_share)
    deal_type = rng.choice(len(DEAL_TYPES), size=n_deals, p=type_share)
    amount_multiplier = np.array([t[3] for t in DEAL_TYPES])[deal_type]
    amount = AMOUNT_MEDIAN * amount_multiplier * rng.lognormal(0.0, AMOUNT_SIGMA, size=n_deals)
    # A few big accounts carry many deals, most carry a handful.
    popularity = 1.0 / np.sqrt(1.0 + rng.permutation(len(ACCOUNT_POOL)))
    account = rng.choice(len(ACCOUNT_POOL), size=n_deals, p=popularity / popularity.sum())
    return _Population(
        created_days=created_days,
        rep=rep,
        lead_source=lead_source,
        deal_type=deal_type,
        log_odds_shift=_log_odds_shift(rep, lead_source, deal_type),
        amount=np.round(amount, 2),
        account=account,
    )


def _run_stage_process(
    rng: np.random.Generator, population: _Population, horizon_days: float
) -> _Trajectories:
    """Step all active deals through one stage change at a time until each is closed or censored."""
    n_deals = population.created_days.size
    deal = np.arange(n_deals)
    stage = np.ones(n_deals, dtype=np.int8)
    days = population.created_days.copy()
    event_deal, event_stage, event_days = [deal], [stage], [days]
    final_stage = stage.copy()
    last_event_days = days.copy()
    log_median = np.log(np.where(MEDIAN_DAYS > 0, MEDIAN_DAYS, 1.0))

    while deal.size:
        advance, skip, regress = transition_probabilities(stage, population.log_odds_shift[deal])
        draw = rng.random(deal.size)
        next_stage = np.select(
            [draw < advance, draw < advance + skip, draw < advance + skip + regress],
            [stage + 1, stage + 2, stage - 1],
            LOST_CODE,
        ).astype(np.int8)
        duration = rng.lognormal(log_median[stage], DURATION_SIGMA[stage])
        duration *= np.where(next_stage == LOST_CODE, LOSS_DURATION_FACTOR, 1.0)
        next_days = days + duration

        # A change that would happen after the horizon has not happened: the deal stays open.
        happened = next_days < horizon_days
        deal, stage, days = deal[happened], next_stage[happened], next_days[happened]
        event_deal.append(deal)
        event_stage.append(stage)
        event_days.append(days)
        final_stage[deal] = stage
        last_event_days[deal] = days

        still_open = stage <= N_OPEN
        deal, stage, days = deal[still_open], stage[still_open], days[still_open]

    all_deals = np.concatenate(event_deal)
    # Events were appended step by step, so a stable sort by deal keeps each deal's time order.
    order = np.argsort(all_deals, kind="stable")
    return _Trajectories(
        event_deal=all_deals[order],
        event_stage=np.concatenate(event_stage)[order],
        event_days=np.concatenate(event_days)[order],
        final_stage=final_stage,
        last_event_days=last_event_days,
    )


def _expected_close_days(rng: np.random.Generator, trajectories: _Trajectories) -> np.ndarray:
    """Expected close dates as a rep would set them at the deal's last stage change.

    The typical remaining time from the current stage, with noise; a deal that has sat in its stage
    for long ends up with a date in the past, as in real CRMs.
    """
    remaining_median_days = np.cumsum(MEDIAN_DAYS[::-1])[::-1]
    stage = trajectories.final_stage
    noise = rng.lognormal(0.0, EXPECTED_CLOSE_SIGMA, size=stage.size)
    return trajectories.last_event_days + remaining_median_days[stage] * noise


def _timestamps(days: np.ndarray, start_epoch: int) -> pl.Series:
    # Flooring cumulative times to the second keeps each deal's timestamps in order.
    seconds = start_epoch + np.floor(days * 86_400.0).astype(np.int64)
    return pl.from_epoch(pl.Series(seconds), time_unit="s")


def _names(codes: np.ndarray, names: tuple[str, ...]) -> pl.Series:
    return pl.Series(names, dtype=pl.String).gather(pl.Series(codes, dtype=pl.UInt32))


def _opportunity_ids(deal: np.ndarray, n_deals: int) -> pl.Series:
    width = max(6, len(str(n_deals)))
    numbers = pl.Series(deal + 1, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit("OPP-") + pl.lit(numbers)).to_series()


def _deals_frame(
    population: _Population,
    trajectories: _Trajectories,
    expected_close_days: np.ndarray,
    start_epoch: int,
) -> pl.DataFrame:
    n_deals = population.created_days.size
    account = _names(population.account, ACCOUNT_POOL)
    deal_type = _names(population.deal_type, tuple(t[0] for t in DEAL_TYPES))
    last_event = _timestamps(trajectories.last_event_days, start_epoch)
    # A closed deal's close_date is when it closed; an open deal's is the expected close date.
    close_date = last_event.dt.strftime(TIMESTAMP_FORMAT).zip_with(
        pl.Series(trajectories.final_stage > N_OPEN),
        _timestamps(expected_close_days, start_epoch).dt.strftime("%Y-%m-%d"),
    )
    return pl.DataFrame(
        {
            "opportunity_id": _opportunity_ids(np.arange(n_deals), n_deals),
            "opportunity_name": account + " - " + deal_type,
            "account": account,
            "sales_agent": _names(population.rep, tuple(r[0] for r in REPS)),
            "lead_source": _names(population.lead_source, tuple(s[0] for s in LEAD_SOURCES)),
            "deal_type": deal_type,
            "deal_stage": _names(trajectories.final_stage, STAGE_NAMES_BY_CODE),
            "close_value": population.amount,
            "currency": pl.repeat(CURRENCY, n_deals, eager=True),
            "engage_date": _timestamps(population.created_days, start_epoch),
            "close_date": close_date,
            "last_modified": last_event,
        }
    )


def _history_frame(trajectories: _Trajectories, start_epoch: int, n_deals: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "opportunity_id": _opportunity_ids(trajectories.event_deal, n_deals),
            "stage": _names(trajectories.event_stage, STAGE_NAMES_BY_CODE),
            "changed_at": _timestamps(trajectories.event_days, start_epoch),
        }
    )


def _activities_frame(
    rng: np.random.Generator,
    population: _Population,
    trajectories: _Trajectories,
    horizon_days: float,
    start_epoch: int,
) -> pl.DataFrame:
    """Activities logged by each deal's rep during its open-stage stints, in deal and time order.

    A stint runs from its stage entry to the deal's next recorded change, or to the horizon for a
    deal still open then; its activity count is Poisson(rate of the stage x stint days), each on a
    uniformly random day of the stint during office hours (kept inside the stint) and of a type
    drawn from the stage's mix.
    """
    deal, stage, entered = (
        trajectories.event_deal,
        trajectories.event_stage,
        trajectories.event_days,
    )
    next_is_same_deal = np.r_[deal[1:] == deal[:-1], False]
    exited = np.where(next_is_same_deal, np.r_[entered[1:], 0.0], horizon_days)
    in_open_stage = stage <= N_OPEN
    deal, stage = deal[in_open_stage], stage[in_open_stage]
    entered, exited = entered[in_open_stage], exited[in_open_stage]
    counts = rng.poisson(ACTIVITY_RATE_PER_DAY[stage] * (exited - entered))
    stint = np.repeat(np.arange(deal.size), counts)
    day = np.floor(entered[stint] + rng.random(stint.size) * (exited - entered)[stint])
    hour = rng.uniform(*OFFICE_HOURS, size=stint.size)
    occurred = np.clip(day + hour / 24.0, entered[stint], exited[stint])
    type_cdf = np.cumsum(ACTIVITY_TYPE_SHARES[stage[stint]], axis=1)
    activity_type = (rng.random(stint.size)[:, None] > type_cdf).sum(axis=1)
    order = np.lexsort((occurred, deal[stint]))
    activity_deal = deal[stint][order]
    n_deals = population.created_days.size
    return pl.DataFrame(
        {
            "opportunity_id": _opportunity_ids(activity_deal, n_deals),
            "activity_type": _names(activity_type[order], ACTIVITY_TYPES),
            "completed_at": _timestamps(occurred[order], start_epoch),
            "assigned_to": _names(population.rep[activity_deal], tuple(r[0] for r in REPS)),
        }
    )


def _truth(seed: int, n_deals: int, end: date, years: float) -> dict[str, Any]:
    rep_share, source_share, type_share = _population_shares()
    # Every (rep, source, deal type) combination with its share of deals in the population.
    rep, lead_source, deal_type = (
        grid.ravel()
        for grid in np.meshgrid(
            np.arange(len(REPS)),
            np.arange(len(LEAD_SOURCES)),
            np.arange(len(DEAL_TYPES)),
            indexing="ij",
        )
    )
    weight = rep_share[rep] * source_share[lead_source] * type_share[deal_type]
    outcomes = absorption_probabilities(_log_odds_shift(rep, lead_source, deal_type))

    def win_rate(mask: np.ndarray) -> float:
        return float(weight[mask] @ outcomes[mask, 0] / weight[mask].sum())

    population_outcomes = weight @ outcomes
    stage_probabilities = transition_probabilities(np.arange(1, N_OPEN + 1), np.zeros(N_OPEN))
    return {
        "seed": seed,
        "n_deals": n_deals,
        "end": end.isoformat(),
        "last_possible_event": f"{end.isoformat()} 23:59:59",
        "years": years,
        "currency": CURRENCY,
        "stages": list(OPEN_STAGES),
        "won_stage": WON_STAGE,
        "lost_stage": LOST_STAGE,
        "worst_stage": WORST_STAGE,
        "truth_method": (
            "exact: absorbing Markov chain over (current stage, highest stage reached), solved per "
            "rep x lead source x deal type and weighted by the population shares (rep load share x "
            "lead source share x deal type share); infinite horizon, so no deal is still open"
        ),
        "odds_model": (
            "P(advance or skip) = (1 - regress_probability) * logistic(logit(advance_share) + "
            "log(rep skill * lead source quality * deal type odds multiplier)); skip_share of "
            "those moves jump two stages; the rest is lost. Probabilities below: multiplier 1."
        ),
        "stage_parameters": {
            name: {
                "advance_share": float(ADVANCE_SHARE[code]),
                "advance_probability": float(stage_probabilities[0][code - 1]),
                "skip_probability": float(stage_probabilities[1][code - 1]),
                "regress_probability": float(stage_probabilities[2][code - 1]),
                "lose_probability": float(1.0 - sum(p[code - 1] for p in stage_probabilities)),
                "duration_median_days": float(MEDIAN_DAYS[code]),
                "duration_log_sigma": float(DURATION_SIGMA[code]),
            }
            for code, name in enumerate(OPEN_STAGES, start=1)
        },
        "loss_duration_factor": LOSS_DURATION_FACTOR,
        "true_stage_metrics": stage_metrics(population_outcomes),
        "true_win_rate": float(population_outcomes[0]),
        "reps": {
            name: {
                "skill": skill,
                "load_share": float(rep_share[i]),
                "true_win_rate": win_rate(rep == i),
            }
            for i, (name, skill, _) in enumerate(REPS)
        },
        "lead_sources": {
            name: {"quality": quality, "share": share, "true_win_rate": win_rate(lead_source == i)}
            for i, (name, quality, share) in enumerate(LEAD_SOURCES)
        },
        "deal_types": {
            name: {
                "odds_multiplier": odds,
                "share": share,
                "amount_multiplier": amount,
                "true_win_rate": win_rate(deal_type == i),
            }
            for i, (name, odds, share, amount) in enumerate(DEAL_TYPES)
        },
        "amount": {"median_new_business": AMOUNT_MEDIAN, "log_sigma": AMOUNT_SIGMA},
        "activities": {
            "model": (
                "Poisson process while a deal sits in an open stage: rate_per_day of that stage; "
                "each activity's type drawn from the stage's type_shares; logged by the deal's rep"
            ),
            "rate_per_day": {
                name: float(ACTIVITY_RATE_PER_DAY[code])
                for code, name in enumerate(OPEN_STAGES, start=1)
            },
            "type_shares": {
                name: dict(zip(ACTIVITY_TYPES, map(float, ACTIVITY_TYPE_SHARES[code]), strict=True))
                for code, name in enumerate(OPEN_STAGES, start=1)
            },
        },
        "creation": {
            "monthly_seasonality": dict(zip(range(1, 13), MONTHLY_SEASONALITY, strict=True)),
            "annual_growth": ANNUAL_GROWTH,
            "weekend_factor": WEEKEND_FACTOR,
        },
    }
