"""The engine's parts on hand-made inputs: cumulative incidence, age conditioning, fallbacks, and
the joint simulation. Every expected number is worked out in the comments."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipeline_analytics.forecast.outcomes import (
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    OutcomeHistory,
    outcome_model,
    stint_histories,
    win_incidence,
    won_incidence,
)
from pipeline_analytics.forecast.simulation import OpenDeals, outcome_tables, simulate_open_deals

WON, LOST, OPEN = OUTCOME_WON, OUTCOME_LOST, OUTCOME_OPEN
NO_DEAL_AGES = pl.DataFrame(
    schema={
        "pipeline": pl.String,
        "deal_type": pl.String,
        "outcome": pl.String,
        "age_at_as_of": pl.Float64,
        "days_to_close": pl.Float64,
    }
)


def test_won_incidence_treats_losses_as_competing():
    # t: 1 won, 2 lost, 3 open (censored), 4 won, 5 lost.
    # t=1: 5 at risk, 1 won -> F = 1/5; still open S = 4/5.
    # t=2: 4 at risk, 1 lost -> S = 4/5 * 3/4 = 3/5.   t=3: censored, leaves (2 at risk).
    # t=4: 2 at risk, 1 won -> F = 1/5 + 3/5 * 1/2 = 1/2.
    # (Treating losses as censored would give 1 - 4/5 * 1/2 = 0.6: an inflated win chance.)
    f = won_incidence(np.array([1.0, 2, 3, 4, 5]), np.array([WON, LOST, OPEN, WON, LOST]))
    assert f(np.array([0.5, 1, 3.5, 4, 10])) == pytest.approx([0, 0.2, 0.2, 0.5, 0.5])


def test_won_incidence_weighted_by_amount():
    # Weights 2,1,1,1,1. t=1: 6 at risk, 2 won -> F = 2/6, S = 4/6. t=2: 4 at risk, 1 lost ->
    # S = 4/6 * 3/4 = 1/2. t=3 censored. t=4: 2 at risk, 1 won -> F = 1/3 + 1/2 * 1/2 = 7/12.
    f = won_incidence(
        np.array([1.0, 2, 3, 4, 5]),
        np.array([WON, LOST, OPEN, WON, LOST]),
        np.array([2.0, 1, 1, 1, 1]),
    )
    assert f(np.array([1.0, 4.0])) == pytest.approx([1 / 3, 7 / 12])


def qualify_history() -> pl.DataFrame:
    """30 stints won after 10 days in the stage, 30 lost after 40, and 10 still running at 5."""
    rows = (
        [("default", "Qualify", 10.0, 100.0, "won", 10.0)] * 30
        + [("default", "Qualify", 40.0, 100.0, "lost", 40.0)] * 30
        + [("default", "Qualify", None, 5.0, "open", None)] * 10
    )
    return pl.DataFrame(
        rows,
        schema=["pipeline", "stage", "stint_days", "age_at_as_of", "outcome", "days_to_close"],
        orient="row",
    )


def test_age_in_stage_conditions_the_win_chance():
    history = stint_histories(qualify_history())[("default", "Qualify")]
    ends = np.array([31.0, 61.0])
    # Landmark 0: everything reached it. The 10 running stints are censored at 5; then 30 of the
    # remaining 60 are won at 10 -> F = 30/60 = 0.5 from month 1 on.
    fresh = win_incidence(history, 0.0, ends)
    assert fresh.cumulative == pytest.approx([0.5, 0.5])
    assert fresh.resolved == 60
    # Landmark 7: the running stints (age 5) never got there; won at 3 days from it, lost at 33.
    assert win_incidence(history, 7.0, ends).cumulative == pytest.approx([0.5, 0.5])
    # Landmark 20: only the lost stints (40 days) were still in the stage at 20 days: a deal
    # that has sat 20 days is a future loser, whatever the stage's overall win rate.
    late = win_incidence(history, 20.0, ends)
    assert late.cumulative == pytest.approx([0.0, 0.0])
    assert late.resolved == 30


def test_fallbacks_in_order():
    stints = pl.concat(
        [
            qualify_history(),
            # Propose: only 5 resolved outcomes, won after 60 days -- too few on its own.
            pl.DataFrame(
                [("default", "Propose", 60.0, 100.0, "won", 60.0)] * 5,
                schema=qualify_history().schema,
                orient="row",
            ),
        ]
    )
    deals = pl.DataFrame(
        {
            "pipeline": ["default", "default", "default", "default", "default", "new", "new"],
            "stage": ["Qualify", "Qualify", "Qualify", "Propose", None, "Renew", "Renew"],
            "stage_age_days": [0.0, 25.0, 50.0, 0.0, None, 3.0, 3.0],
            "crm_probability": [None, None, None, None, None, 0.4, None],
            "stage_probability": [None, None, None, None, None, None, None],
            "deal_type": [None] * 7,
            "deal_age_days": [None] * 7,
        },
        schema_overrides={
            "crm_probability": pl.Float64,
            "stage_probability": pl.Float64,
            "deal_type": pl.String,
            "deal_age_days": pl.Float64,
        },
    )
    ends = np.array([31.0, 61.0])
    history = OutcomeHistory(stints, NO_DEAL_AGES, win_rate=None)
    model = outcome_model(deals, history, ends, np.array([-1, -1, -1, -1, -1, 1, 1]))
    assert model.basis == ["stage", "stage", "oldest_age", "pooled", "pooled", "crm", "none"]
    by_deal = model.cumulative[model.deal_class]
    # Qualify at age 0: 0.5 (as above). At 25 (bucket from 23): only losers got there -> 0.
    # At 50 (bucket from 49): nothing in the history got that far, in Qualify or pooled; the
    # oldest Qualify bucket with 30 outcomes starts at 34 (the losers, 40 days) -> 0.
    assert by_deal[0] == pytest.approx([0.5, 0.5])
    assert by_deal[1] == pytest.approx([0.0, 0.0])
    assert by_deal[2] == pytest.approx([0.0, 0.0])
    # Propose has 5 outcomes: pooled (Qualify + Propose) at age 0, 75 stints: the 10 running are
    # censored at 5, 30 of 65 won at 10 (F = 30/65, S = 35/65), 30 of 35 lost at 40
    # (S = 5/65), 5 of 5 won at 60 (F += 5/65): F(31) = 30/65, F(61) = 35/65.
    assert by_deal[3] == pytest.approx([30 / 65, 35 / 65])
    # Unknown stage: pooled, age unknown counts as 0.
    assert by_deal[4] == pytest.approx([30 / 65, 35 / 65])
    # No history in pipeline 'new': the CRM probability 0.4 in month 2; without one, nothing.
    assert by_deal[5] == pytest.approx([0.0, 0.4])
    assert by_deal[6] == pytest.approx([0.0, 0.0])
    # Deals in the same situation share a class.
    assert model.deal_class[3] == model.deal_class[4]


def test_outcome_tables_round_to_16_bit_levels():
    tables = outcome_tables(np.array([[0.25, 0.5]]))
    # Levels 0..16383 -> won in month 1, 16384..32767 -> month 2, the rest not won.
    assert np.bincount(tables[0], minlength=3).tolist() == [16384, 16384, 32768]


def test_simulation_is_joint_and_reproducible():
    # 10 deals of 100, each won in month 1 with probability 0.5: the total is 100 x Binomial(10,
    # 0.5). P(X <= 2) = 0.055, P(X <= 3) = 0.172 -> P10 = 300; P(X <= 6) = 0.828, P(X <= 7) =
    # 0.945 -> P90 = 700. Summing per-deal P10s (0) and P90s (100) would give 0 and 1000.
    deals = OpenDeals(np.full(10, 100.0), np.zeros(10, dtype=np.intp), np.zeros(10, np.intp))
    cumulative = np.array([[0.5, 0.5]])
    totals = simulate_open_deals(deals, cumulative, 1, 20_000, seed=11)
    month1 = totals[:, 0, 0]
    assert np.percentile(month1, [10, 50, 90]).tolist() == [300.0, 500.0, 700.0]
    assert (totals[:, 0, 1] == 0).all()
    # Mean 500, sd of the mean 100 * sqrt(10 * 0.25) / sqrt(20000) = 1.1.
    assert month1.mean() == pytest.approx(500.0, abs=6)
    again = simulate_open_deals(deals, cumulative, 1, 20_000, seed=11)
    one_thread = simulate_open_deals(deals, cumulative, 1, 20_000, seed=11, threads=1)
    assert np.array_equal(totals, again)
    assert np.array_equal(totals, one_thread)
    assert not np.array_equal(totals, simulate_open_deals(deals, cumulative, 1, 20_000, seed=12))


def test_simulation_means_groups_and_missing_amounts():
    # Class 0: won in month 1 w.p. 0.1, month 2 w.p. 0.2 (few wins: only winning draws are
    # handled). Class 1: month 2 w.p. 0.9 (most draws win: every draw is looked up).
    cumulative = np.array([[0.1, 0.3], [0.0, 0.9]])
    deals = OpenDeals(
        amount=np.array([1000.0, 500.0, np.nan, 0.0, 2000.0]),
        outcome_class=np.array([0, 0, 0, 1, 1]),
        group=np.array([0, 1, 1, 0, 1]),
    )
    totals = simulate_open_deals(deals, cumulative, 2, 40_000, seed=5)
    # Expected, by group and month: group 0: 1000 x (0.1, 0.2) = (100, 200); the 0 amount adds
    # nothing. Group 1: 500 x (0.1, 0.2) + 2000 x (0, 0.9) = (50, 1900); the NaN adds nothing.
    # Largest sd of a cell mean: sqrt(2000^2 * 0.09) / sqrt(40000) = 3.
    assert totals.mean(axis=0) == pytest.approx(np.array([[100, 200], [50, 1900]]), abs=15)
    assert np.all(totals[:, 0, :] % 1000 == 0)  # group 0 holds only the 1000 deal
    assert np.array_equal(totals, simulate_open_deals(deals, cumulative, 2, 40_000, 5, threads=1))
