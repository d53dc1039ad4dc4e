"""When, if ever, an open deal is won: from what became of earlier deals in its stage at its age.

For an open deal that has sat `a` days in stage s, the reference set is every stint in s (of any
deal, begun before as_of) that was still in s at age a; the landmark of each is the moment it
reached age a. From the landmark on, its deal was won (at a known time), lost (at a known time) or
was still open at as_of (censored then). Won and lost are competing outcomes -- a lost deal cannot
be won later -- so the chance of being won within t days of the landmark is the Aalen-Johansen
cumulative incidence

    F(t) = sum over event times u <= t of  S(u-) * won(u) / at_risk(u),

where S is the Kaplan-Meier probability of still being open (either outcome ends it) and censored
stints leave the risk set without an outcome. Lost deals are not treated as censored, which would
overstate the chance of winning; deals still open are, since their outcome is unknown.

Ages are grouped in buckets (AGE_BUCKET_EDGES); a deal in bucket [lo, hi) uses landmark age lo.
Conditioning on age is what keeps deals that have sat far past the usual time from looking like
fresh ones: in most pipelines lost deals linger longer than won ones.

A reference set needs MIN_RESOLVED informative outcomes: won or lost, or still open LONG_OPEN_DAYS
after the landmark (a deal that sat that long without closing tells that deals of that age mostly
do not close; without it, stale deals that never close would take the chances of younger ones).
Each open deal takes the first of these that the data supports (its `basis` in forecast_deals):
1. stage history: `stage`, its stage at its age bucket; `pooled`, every open stage of the pipeline
   together at its age bucket; `oldest_age`, older than the history supports: its stage (else
   the pooled stages) at the oldest age bucket with enough outcomes;
2. `deal_age`: the same estimator over whole deals, by deal age (days since creation): deals of
   its pipeline and deal type (else the whole pipeline) that were still open at its age, won and
   lost competing, open ones censored; needs only creation and close dates, so it serves exports
   without stage history (a deal without a creation date has no age: it goes on to 3);
3. `crm`: the CRM's probability, else the stage's default probability from the config (first of
   all when deals were won but none was ever lost: the history then shows no losses);
4. `win_rate`: the share won of every deal closed by as_of;
   3 and 4 are timed by the cycles of won deals still open at the deal's age (cycle_timing), not
   by an expected close date that may long have passed; only without any won cycle, by an
   expected close date still ahead, else evenly over the days the open pipeline takes to close
   at the historical pace (turnover_days);
5. `none`: nothing has closed yet; the deal adds nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

# Lower edges (days) of the age buckets: daily for the first week, then about 20 % wider each.
AGE_BUCKET_EDGES = np.array(
    [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 16, 19, 23, 28, 34, 41, 49, 59, 71, 85, 102, 122]
    + [146, 175, 210, 252, 302, 362, 434, 521, 625, 750, 900, 1080],
    dtype=float,
)
MIN_RESOLVED = 30
LONG_OPEN_DAYS = 90
OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2
POOLED = None  # the stage key of a pipeline's pooled history


@dataclass(frozen=True)
class StintHistory:
    """Stints of one stage (or pooled), as in int_forecast_stints, in estimator order.

    Rows are sorted by outcome_time, outcomes before censoring at equal times, ties in the order
    the stints were read: the order the estimator needs at every landmark (a landmark's reference
    set is a subset, its times shifted by a constant), so a history is sorted once rather than
    once per age bucket. Only what win_incidence reads is kept, with the counts it needs at any
    landmark prepared once (a landmark then costs its reference set's first months, not the
    whole history).
    """

    # The age the stint reached in the stage: stint_days when it ended by as_of, else its age at
    # as_of. It reached landmark age a when reach_days > a.
    reach_days: np.ndarray
    outcome: np.ndarray  # OUTCOME_* (int8)
    outcome_time: np.ndarray  # days from the stint's start to its deal's close, or to as_of

    @functools.cached_property
    def closed_reach(self) -> np.ndarray:
        """reach_days of the won and lost stints, sorted, NaN left out (never past a landmark)."""
        reach = self.reach_days[self.outcome != OUTCOME_OPEN]
        return np.sort(reach[~np.isnan(reach)])

    @functools.cached_property
    def still_open(self) -> tuple[np.ndarray, np.ndarray]:
        """reach_days and outcome_time of the stints still open at as_of."""
        still_open = self.outcome == OUTCOME_OPEN
        return self.reach_days[still_open], self.outcome_time[still_open]


def as_floats(series: pl.Series) -> np.ndarray:
    """A numeric column as float64, NULL as NaN."""
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy()


def deal_probability(open_deals: pl.DataFrame) -> np.ndarray:
    """Each open deal's probability: the CRM's, else its stage's configured default, else 0."""
    return (
        open_deals["crm_probability"]
        .fill_null(open_deals["stage_probability"])
        .cast(pl.Float64)
        .fill_null(0.0)
        .to_numpy()
    )


@dataclass(frozen=True)
class Incidence:
    """Cumulative probability of being won by each forecast month's end, from a landmark."""

    cumulative: np.ndarray  # (H,)
    resolved: int  # won or lost outcomes in the reference set
    # resolved, plus deals still open at least LONG_OPEN_DAYS after the landmark: each says what
    # did not happen to a deal of that age (stale deals that never close are such evidence).
    informative: int = 0


@dataclass(frozen=True)
class StepFunction:
    """A right-continuous step function: value[i] from time[i] on, 0 before time[0]."""

    time: np.ndarray
    value: np.ndarray

    def __call__(self, at: np.ndarray) -> np.ndarray:
        if self.time.size == 0:  # estimated from no deal (none has a creation date): 0 throughout
            return np.zeros(np.shape(at))
        last = np.searchsorted(self.time, at, side="right") - 1
        return np.where(last >= 0, self.value[np.maximum(last, 0)], 0.0)


def won_incidence(
    time: np.ndarray, outcome: np.ndarray, weight: np.ndarray | None = None
) -> StepFunction:
    """Aalen-Johansen cumulative incidence of OUTCOME_WON, lost competing, open censored.

    time: days from the landmark to the outcome (to as_of for open ones). Weights (e.g. amounts)
    make it the share of weight won by time t; without them, the share of deals.
    """
    weight = np.ones(time.size) if weight is None else weight
    order = _estimator_order(time, outcome != OUTCOME_OPEN)
    return _sorted_won_incidence(time[order], outcome[order], weight[order])


def _estimator_order(time: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """By time; outcomes before censoring at equal times, as the estimator assumes."""
    return np.lexsort((~closed, time))


def _sorted_won_incidence(
    time: np.ndarray, outcome: np.ndarray, weight: np.ndarray, rows: int | None = None
) -> StepFunction:
    """won_incidence of rows already in `_estimator_order`.

    rows: the size of the whole reference set, when the rows given (each weighing 1) are only its
    first ones; their values are those of the whole set.
    """
    closed = outcome != OUTCOME_OPEN
    if rows is None:
        at_risk = np.cumsum(weight[::-1])[::-1]
    else:  # weights of 1: the reversed running sum is the count of rows left, exactly
        at_risk = rows - np.arange(time.size, dtype=float)
    safe = np.where(at_risk > 0, at_risk, 1.0)
    still_open = np.cumprod(1.0 - closed * weight / safe)
    open_before = np.r_[1.0, still_open[:-1]]
    return StepFunction(time, np.cumsum(open_before * (outcome == OUTCOME_WON) * weight / safe))


def win_incidence(history: StintHistory, landmark_age: float, month_ends: np.ndarray) -> Incidence:
    """P(won within t days of reaching `landmark_age` in the stage), at t = each month end."""
    closed_reach = history.closed_reach
    resolved = int(closed_reach.size - np.searchsorted(closed_reach, landmark_age, side="right"))
    open_reach, open_time = history.still_open
    open_reached = open_reach > landmark_age
    long_open = np.count_nonzero(open_reached & (open_time - landmark_age >= LONG_OPEN_DAYS))
    informative = resolved + int(long_open)
    if resolved == 0:
        return Incidence(np.zeros(month_ends.size), 0, informative)
    reference = resolved + int(np.count_nonzero(open_reached))  # stints that reached the age
    # The estimator is a running sum and product in time order: only the reference stints up to
    # the last month end (and a day, against rounding) change its values there; the later ones
    # count only in the size of the risk set.
    first = np.searchsorted(
        history.outcome_time, landmark_age + np.max(month_ends) + 1.0, side="right"
    )
    reached = history.reach_days[:first] > landmark_age
    outcome = history.outcome[:first][reached]
    time = history.outcome_time[:first][reached] - landmark_age
    incidence = _sorted_won_incidence(time, outcome, np.ones(time.size), reference)
    return Incidence(incidence(month_ends), resolved, informative)


@dataclass(frozen=True)
class OutcomeModel:
    """Per open deal: its outcome class and basis; per class: P(won by the end of month k)."""

    deal_class: np.ndarray
    basis: list[str]
    cumulative: np.ndarray  # (classes, H)


def age_bucket(age_days: np.ndarray) -> np.ndarray:
    """Bucket index of each age; an unknown age counts as bucket 0 (the stage's whole history)."""
    known = np.nan_to_num(age_days, nan=0.0)
    return np.maximum(np.searchsorted(AGE_BUCKET_EDGES, known, side="right") - 1, 0)


class _Ladder:
    """Incidence per (pipeline, stage, bucket) with the fallback order, computed once each."""

    def __init__(self, histories: dict[tuple[str, str | None], StintHistory], ends: np.ndarray):
        self.histories = histories
        self.ends = ends
        self.cache: dict[tuple[str, str | None, int], Incidence] = {}

    def incidence(self, pipeline: str, stage: str | None, bucket: int) -> Incidence | None:
        history = self.histories.get((pipeline, stage))
        if history is None:
            return None
        key = (pipeline, stage, bucket)
        if key not in self.cache:
            self.cache[key] = win_incidence(history, AGE_BUCKET_EDGES[bucket], self.ends)
        return self.cache[key]

    def enough(self, pipeline: str, stage: str | None, bucket: int) -> Incidence | None:
        found = self.incidence(pipeline, stage, bucket)
        return found if found is not None and found.informative >= MIN_RESOLVED else None

    def oldest(self, pipeline: str, stage: str | None, bucket: int) -> Incidence | None:
        for older in range(bucket - 1, -1, -1):
            found = self.enough(pipeline, stage, older)
            if found is not None:
                return found
        return None

    def resolve(
        self, pipeline: str, stage: str | None, bucket: int
    ) -> tuple[str, Incidence | None]:
        steps = (
            ("stage", lambda: stage is not None and self.enough(pipeline, stage, bucket)),
            ("pooled", lambda: self.enough(pipeline, POOLED, bucket)),
            ("oldest_age", lambda: stage is not None and self.oldest(pipeline, stage, bucket)),
            ("oldest_age", lambda: self.oldest(pipeline, POOLED, bucket)),
        )
        for basis, step in steps:
            found = step()
            if found:
                return basis, found
        return "crm", None


@dataclass(frozen=True)
class StintTable:
    """int_forecast_stints reduced to what the estimator reads, rows in the order they were read.

    Built a batch of rows at a time (from_batches), so the stints (3M at 1M deals) never sit in
    memory as a frame of strings: per row, its (pipeline, stage) as a key number, reach_days,
    outcome and outcome_time (StintHistory).
    """

    keys: list[tuple[str, str | None]]  # (pipeline, stage) of each key number
    key: np.ndarray  # per row, its number in `keys`
    reach_days: np.ndarray
    outcome: np.ndarray
    outcome_time: np.ndarray

    @classmethod
    def from_frame(cls, stints: pl.DataFrame) -> StintTable:
        """From rows of int_forecast_stints (pipeline, stage, stint_days, age_at_as_of, outcome,
        days_to_close)."""
        return cls.from_batches([stints])

    @classmethod
    def from_batches(cls, batches: Iterable[pl.DataFrame]) -> StintTable:
        numbers: dict[tuple[str, str | None], int] = {}
        parts: list[tuple[np.ndarray, ...]] = []
        for batch in batches:
            key = np.empty(batch.height, dtype=np.int32)
            groups = batch.select("pipeline", "stage").with_row_index("row")
            grouped = groups.group_by("pipeline", "stage").agg("row")
            for i, (pipeline, stage) in enumerate(grouped.select("pipeline", "stage").iter_rows()):
                number = numbers.setdefault((pipeline, stage), len(numbers))
                key[grouped["row"][i].to_numpy()] = number
            outcome = (
                batch["outcome"]
                .replace_strict(
                    {"open": OUTCOME_OPEN, "won": OUTCOME_WON, "lost": OUTCOME_LOST},
                    return_dtype=pl.Int8,
                )
                .to_numpy()
            )
            stint_days = as_floats(batch["stint_days"])
            age_at_as_of = as_floats(batch["age_at_as_of"])
            # A stint still open is censored at as_of, the others end at their deal's close.
            outcome_time = np.where(
                outcome == OUTCOME_OPEN, age_at_as_of, as_floats(batch["days_to_close"])
            )
            # The age it reached in the stage: its length when it ended by as_of, else its age.
            reach_days = np.where(np.isnan(stint_days), age_at_as_of, stint_days)
            parts.append((key, reach_days, outcome, outcome_time))
        columns = [np.concatenate(c) for c in zip(*parts, strict=True)] if parts else None
        if columns is None:
            columns = [np.zeros(0, np.int32), np.zeros(0), np.zeros(0, np.int8), np.zeros(0)]
        return cls(list(numbers), *columns)

    def histories(self) -> dict[tuple[str, str | None], StintHistory]:
        """Reference stints per (pipeline, stage), plus each pipeline's pooled history."""
        # One stable sort into estimator order; each group's rows keep it (and their read order
        # at ties), as a sort of the group alone would give.
        order = _estimator_order(self.outcome_time, self.outcome != OUTCOME_OPEN)
        key = self.key[order]
        histories: dict[tuple[str, str | None], StintHistory] = {}
        pipelines: dict[str, list[int]] = {}
        for number, (pipeline, stage) in enumerate(self.keys):
            histories[(pipeline, stage)] = self._history(order[key == number])
            pipelines.setdefault(pipeline, []).append(number)
        for pipeline, numbers in pipelines.items():
            histories[(pipeline, POOLED)] = self._history(order[np.isin(key, numbers)])
        return histories

    def _history(self, rows: np.ndarray) -> StintHistory:
        return StintHistory(self.reach_days[rows], self.outcome[rows], self.outcome_time[rows])


def stint_histories(
    stints: pl.DataFrame | StintTable,
) -> dict[tuple[str, str | None], StintHistory]:
    """Reference stints per (pipeline, stage), plus each pipeline's pooled history."""
    table = stints if isinstance(stints, StintTable) else StintTable.from_frame(stints)
    return table.histories()


@dataclass(frozen=True)
class OutcomeHistory:
    """What open deals' outcomes are learnt from, as known at as_of.

    stints: int_forecast_stints (pipeline, stage, stint_days, age_at_as_of, outcome,
    days_to_close). deal_ages: int_forecast_deal_ages (pipeline, deal_type, outcome, age_at_as_of,
    days_to_close). win_rate: won / (won + lost) over every deal closed by as_of, None when none is.
    """

    stints: pl.DataFrame | StintTable
    deal_ages: pl.DataFrame
    win_rate: float | None
    # Days the open pipeline takes to close at the historical pace (open deals / deals closed a
    # day): without a known won cycle, deals with a past or unknown expected close are spread
    # evenly over them instead of piling into the first month.
    turnover_days: float = 30.0
    # False when deals were won but none was ever lost: the export likely leaves lost deals out
    # (a report filter), so the history shows no losses and overstates every win chance.
    losses_known: bool = True

    def won_cycles(self) -> np.ndarray:
        """Days from creation to close of the deals won by as_of, sorted."""
        won = self.deal_ages.filter(pl.col("outcome") == "won")["days_to_close"]
        return np.sort(as_floats(won))


def deal_age_histories(deal_ages: pl.DataFrame) -> dict[tuple[str, str | None], StintHistory]:
    """A deal's whole life as one stint: per (pipeline, deal type), plus each pipeline pooled."""
    return stint_histories(
        deal_ages.select(
            "pipeline",
            pl.col("deal_type").alias("stage"),
            pl.col("days_to_close").alias("stint_days"),
            "age_at_as_of",
            "outcome",
            "days_to_close",
        )
    )


def cycle_timing(won_cycles: np.ndarray, age_days: float, month_ends: np.ndarray) -> np.ndarray:
    """P(closed by each month end | the deal is won), from the cycles of deals won before.

    A deal `age_days` old closes like the won deals that were still open at that age (their
    remaining days); when none was open that long, like a won deal from its start.
    """
    later = won_cycles[won_cycles > age_days]
    remaining = later - age_days if later.size else won_cycles
    return np.searchsorted(remaining, month_ends, side="right") / remaining.size


class _Classes:
    """Distinct outcome vectors, each stored once under a key."""

    def __init__(self) -> None:
        self.vectors: list[np.ndarray] = []
        self.index: dict[object, int] = {}

    def of(self, key: object, vector: np.ndarray) -> int:
        if key not in self.index:
            self.index[key] = len(self.vectors)
            self.vectors.append(np.maximum.accumulate(vector))
        return self.index[key]

    def cumulative(self, horizon: int) -> np.ndarray:
        return np.array(self.vectors) if self.vectors else np.zeros((0, horizon))


def _situations(open_deals: pl.DataFrame, key: str, age: str) -> list[tuple[str, str | None, int]]:
    """(pipeline, key, age bucket) of each open deal: deals in one situation share a class."""
    return list(
        zip(
            open_deals["pipeline"].to_list(),
            open_deals[key].to_list(),
            age_bucket(as_floats(open_deals[age])).tolist(),
            strict=True,
        )
    )


def _resolve_ladder(
    ladder: _Ladder,
    situations: list[tuple[str, str | None, int]],
    rows: np.ndarray,
    classes: _Classes,
) -> tuple[np.ndarray, list[str]]:
    """Class (-1 when the ladder has nothing) and basis of each of `rows`' situations."""
    distinct: dict[tuple, int] = {}
    situation = np.array([distinct.setdefault(situations[i], len(distinct)) for i in rows])
    found_class, levels = [], []
    for pipeline, key, bucket in distinct:
        level, found = ladder.resolve(pipeline, key, bucket)
        levels.append(level)
        found_class.append(-1 if found is None else classes.of(id(found), found.cumulative))
    deal_class = np.asarray(found_class, dtype=np.intp)[situation] if rows.size else rows
    return deal_class, [levels[k] for k in situation]


def outcome_model(
    open_deals: pl.DataFrame,
    history: OutcomeHistory,
    month_ends: np.ndarray,
    expected_month: np.ndarray,
) -> OutcomeModel:
    """Outcome class and basis of every open deal (rows of open_deals, in order).

    open_deals: pipeline, stage, stage_age_days, deal_type, deal_age_days, crm_probability,
    stage_probability. expected_month: per deal, the forecast month (0-based; the horizon when
    later) of an expected close date still ahead, -1 when it has passed or is unknown; used only
    when no won deal has a known cycle (see OutcomeHistory.turnover_days).
    """
    horizon = month_ends.size
    n = open_deals.height
    classes = _Classes()
    deal_class = np.full(n, -1, dtype=np.intp)
    basis = np.full(n, "none", dtype=object)
    probability = deal_probability(open_deals)
    # Without any known loss the history cannot tell a win chance: a deal with a probability of
    # its own goes straight to it (3 below).
    from_history = np.ones(n, dtype=bool) if history.losses_known else ~(probability > 0)

    # 1. Stage x age in stage, where stage history exists.
    stage_ladder = _Ladder(stint_histories(history.stints), month_ends)
    rows = np.flatnonzero(from_history)
    found, levels = _resolve_ladder(
        stage_ladder, _situations(open_deals, "stage", "stage_age_days"), rows, classes
    )
    deal_class[rows], basis[rows] = found, levels

    # 2. Deal age, won and lost competing, by pipeline and deal type (else the pipeline pooled).
    aged = ~np.isnan(as_floats(open_deals["deal_age_days"]))
    rows = np.flatnonzero((deal_class < 0) & from_history & aged)
    if rows.size:  # the deal-age histories are sorted only when a deal needs them
        age_ladder = _Ladder(deal_age_histories(history.deal_ages), month_ends)
        found, _ = _resolve_ladder(
            age_ladder, _situations(open_deals, "deal_type", "deal_age_days"), rows, classes
        )
        deal_class[rows] = found
        basis[rows[found >= 0]] = "deal_age"

    # 3. The CRM's (or the config's) probability, else 4. the pooled win rate; timed by the
    # historical cycle length, not by an expected close date that may long have passed.
    rows = np.flatnonzero(deal_class < 0)
    won_cycles = history.won_cycles()
    spread = np.minimum(month_ends / history.turnover_days, 1.0)
    deal_age = np.nan_to_num(as_floats(open_deals["deal_age_days"]), nan=0.0)
    age_edge = AGE_BUCKET_EDGES[age_bucket(deal_age)]
    months = np.arange(horizon)
    for i in rows:
        if probability[i] > 0:
            level, chance = "crm", probability[i]
        elif history.win_rate is not None:
            level, chance = "win_rate", history.win_rate
        else:
            continue  # nothing closed yet: nothing to learn from
        if won_cycles.size:
            key: tuple = (level, chance, age_edge[i])
            if key not in classes.index:
                classes.of(key, chance * cycle_timing(won_cycles, age_edge[i], month_ends))
        elif expected_month[i] >= 0:
            key = (level, chance, "month", expected_month[i])
            classes.of(key, chance * (months >= expected_month[i]))
        else:
            key = (level, chance, "spread")
            classes.of(key, chance * spread)
        deal_class[i] = classes.index[key]
        basis[i] = level
    nothing = deal_class < 0
    if nothing.any():
        deal_class[nothing] = classes.of("none", np.zeros(horizon))
        basis[nothing] = "none"
    return OutcomeModel(deal_class, list(basis), classes.cumulative(horizon))
