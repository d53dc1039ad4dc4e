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

A reference set needs MIN_RESOLVED won or lost outcomes. Fallbacks, in order (the `basis` of each
deal in forecast_deals):
1. `stage`: the deal's stage at its age bucket;
2. `pooled`: every open stage of the pipeline together, at its age bucket;
3. `oldest_age`: the deal is older than the history supports: its stage at the oldest age bucket
   with enough outcomes, else all stages pooled at theirs;
4. `crm`: the CRM probability (else the stage's default probability from the config), won in the
   month of the expected close date (overdue dates count as month 1);
5. `none`: none of these is known; the deal adds nothing.
"""

from __future__ import annotations

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
OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2
POOLED = None  # the stage key of a pipeline's pooled history


@dataclass(frozen=True)
class StintHistory:
    """Stints of one stage (or pooled), as in int_forecast_stints, in estimator order.

    Rows are sorted by outcome_time, outcomes before censoring at equal times: the order the
    estimator needs at every landmark (a landmark's reference set is a subset, its times shifted
    by a constant), so a history is sorted once rather than once per age bucket.
    """

    stint_days: np.ndarray  # NaN while still in the stage at as_of
    age_at_as_of: np.ndarray
    outcome: np.ndarray  # OUTCOME_*
    days_to_close: np.ndarray  # NaN while open
    outcome_time: np.ndarray  # days from the stint's start to its deal's close, or to as_of

    @classmethod
    def from_ordered(cls, ordered: pl.DataFrame) -> StintHistory:
        """From rows of `in_estimator_order` (or any subset of them, which keeps the order)."""
        return cls(
            _floats(ordered["stint_days"]),
            _floats(ordered["age_at_as_of"]),
            ordered["outcome"].to_numpy(),
            _floats(ordered["days_to_close"]),
            _floats(ordered["outcome_time"]),
        )


def in_estimator_order(stints: pl.DataFrame) -> pl.DataFrame:
    """Stints with outcome coded and outcome_time added, sorted as StintHistory keeps them."""
    coded = stints.with_columns(
        pl.col("outcome").replace_strict(
            {"open": OUTCOME_OPEN, "won": OUTCOME_WON, "lost": OUTCOME_LOST},
            return_dtype=pl.Int8,
        )
    )
    still_open = pl.col("outcome") == OUTCOME_OPEN
    return coded.with_columns(
        pl.when(still_open)
        .then(pl.col("age_at_as_of"))
        .otherwise(pl.col("days_to_close"))
        .alias("outcome_time")
    ).sort(pl.col("outcome_time"), still_open, nulls_last=True, maintain_order=True)


def _floats(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy()


@dataclass(frozen=True)
class Incidence:
    """Cumulative probability of being won by each forecast month's end, from a landmark."""

    cumulative: np.ndarray  # (H,)
    resolved: int  # won or lost outcomes in the reference set


@dataclass(frozen=True)
class StepFunction:
    """A right-continuous step function: value[i] from time[i] on, 0 before time[0]."""

    time: np.ndarray
    value: np.ndarray

    def __call__(self, at: np.ndarray) -> np.ndarray:
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
    time: np.ndarray, outcome: np.ndarray, weight: np.ndarray
) -> StepFunction:
    """won_incidence of rows already in `_estimator_order`."""
    closed = outcome != OUTCOME_OPEN
    at_risk = np.cumsum(weight[::-1])[::-1]
    safe = np.where(at_risk > 0, at_risk, 1.0)
    still_open = np.cumprod(1.0 - closed * weight / safe)
    open_before = np.r_[1.0, still_open[:-1]]
    return StepFunction(time, np.cumsum(open_before * (outcome == OUTCOME_WON) * weight / safe))


def win_incidence(history: StintHistory, landmark_age: float, month_ends: np.ndarray) -> Incidence:
    """P(won within t days of reaching `landmark_age` in the stage), at t = each month end."""
    running = np.isnan(history.stint_days)
    reached = np.where(
        running, history.age_at_as_of > landmark_age, history.stint_days > landmark_age
    )
    outcome = history.outcome[reached]
    resolved = int(np.count_nonzero(outcome != OUTCOME_OPEN))
    if resolved == 0:
        return Incidence(np.zeros(month_ends.size), 0)
    time = history.outcome_time[reached] - landmark_age
    incidence = _sorted_won_incidence(time, outcome, np.ones(time.size))
    return Incidence(incidence(month_ends), resolved)


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
        return found if found is not None and found.resolved >= MIN_RESOLVED else None

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


def stint_histories(stints: pl.DataFrame) -> dict[tuple[str, str | None], StintHistory]:
    """Reference stints per (pipeline, stage), plus each pipeline's pooled history."""
    # Sorted once: polars keeps the order of rows within each group.
    ordered = in_estimator_order(stints)
    histories: dict[tuple[str, str | None], StintHistory] = {}
    for (pipeline, stage), frame in ordered.group_by("pipeline", "stage"):
        histories[(pipeline, stage)] = StintHistory.from_ordered(frame)
    for (pipeline,), frame in ordered.group_by("pipeline"):
        histories[(pipeline, POOLED)] = StintHistory.from_ordered(frame)
    return histories


def outcome_model(
    open_deals: pl.DataFrame,
    stints: pl.DataFrame,
    month_ends: np.ndarray,
    crm_month: np.ndarray,
) -> OutcomeModel:
    """Outcome class of every open deal (rows of open_deals, in order).

    open_deals: pipeline, stage, stage_age_days, crm_probability, stage_probability.
    crm_month: per deal, the forecast month (0-based) of its expected close, or -1 when unknown
    or beyond the horizon; used only by the `crm` fallback.
    """
    ladder = _Ladder(stint_histories(stints), month_ends)
    horizon = month_ends.size
    # A situation is (pipeline, stage, age bucket); deals in the same one share a class.
    buckets = age_bucket(_floats(open_deals["stage_age_days"]))
    situations = list(
        zip(
            open_deals["pipeline"].to_list(),
            open_deals["stage"].to_list(),
            buckets.tolist(),
            strict=True,
        )
    )
    distinct: dict[tuple, int] = {}
    situation = np.array([distinct.setdefault(s, len(distinct)) for s in situations], dtype=np.intp)

    vectors: list[np.ndarray] = []
    classes: dict[object, int] = {}

    def class_of(key: object, vector: np.ndarray) -> int:
        if key not in classes:
            classes[key] = len(vectors)
            vectors.append(np.maximum.accumulate(vector))
        return classes[key]

    levels, situation_class = [], []
    for pipeline, stage, bucket in distinct:
        level, found = ladder.resolve(pipeline, stage, bucket)
        levels.append(level)
        situation_class.append(-1 if found is None else class_of(id(found), found.cumulative))
    deal_class = np.asarray(situation_class, dtype=np.intp)[situation]
    basis = np.asarray(levels, dtype=object)[situation]

    probability = (
        open_deals["crm_probability"]
        .fill_null(open_deals["stage_probability"])
        .cast(pl.Float64)
        .fill_null(0.0)
        .to_numpy()
    )
    months = np.arange(horizon)
    for i in np.flatnonzero(deal_class < 0):
        if probability[i] > 0 and crm_month[i] >= 0:
            vector = np.where(months >= crm_month[i], probability[i], 0.0)
            deal_class[i] = class_of(("crm", probability[i], crm_month[i]), vector)
        else:
            basis[i] = "none"
            deal_class[i] = class_of("none", np.zeros(horizon))
    cumulative = np.array(vectors) if vectors else np.zeros((0, horizon))
    return OutcomeModel(deal_class, list(basis), cumulative)
