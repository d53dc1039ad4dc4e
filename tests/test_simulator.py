"""The pipeline simulator: determinism, export invariants, and truth that matches the process."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline_analytics.sample import simulate, write_sample
from pipeline_analytics.sample.simulator import (
    OPEN_STAGES,
    absorption_probabilities,
    stage_metrics,
)

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
SAMPLE_FILES = ("deals.csv", "stage_history.csv", "truth.json")
END = date(2026, 10, 31)
STAGE_ORDER = {name: order for order, name in enumerate(OPEN_STAGES, start=1)}


@pytest.fixture(scope="module")
def small() -> tuple[pl.DataFrame, pl.DataFrame]:
    pipeline = simulate(2000, seed=11)
    return pipeline.deals, pipeline.stage_history


def _highest_stage_per_deal(history: pl.DataFrame) -> np.ndarray:
    """Highest open stage order each deal reached, in opportunity_id order (history is sorted)."""
    order = history["stage"].replace_strict(STAGE_ORDER, default=0, return_dtype=pl.Int8)
    ids = history["opportunity_id"].to_numpy()
    first_rows = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return np.maximum.reduceat(order.to_numpy(), first_rows)


def _consecutive_open_stage_pairs(history: pl.DataFrame) -> pl.DataFrame:
    return (
        history.with_columns(
            order=pl.col("stage").replace_strict(STAGE_ORDER, default=None, return_dtype=pl.Int8)
        )
        .with_columns(previous=pl.col("order").shift(1).over("opportunity_id"))
        .filter(pl.col("order").is_not_null() & pl.col("previous").is_not_null())
    )


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    write_sample(tmp_path / "a", n_deals=2000, seed=5)
    write_sample(tmp_path / "b", n_deals=2000, seed=5)
    write_sample(tmp_path / "c", n_deals=2000, seed=6)
    for name in SAMPLE_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for name in ("deals.csv", "stage_history.csv"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_committed_sample_is_what_the_simulator_writes(tmp_path: Path) -> None:
    write_sample(tmp_path, n_deals=4000, seed=7)
    # Exact by construction: every float in these files is floored to the second or rounded to the
    # cent by our code, and in this sample the nearest one sits about 1,000 ulps from a boundary,
    # far more than the few ulps by which exp/log may differ between CPUs.
    for name in ("deals.csv", "stage_history.csv", "activities.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name
    # The true rates are solved with LAPACK, whose last bits depend on the machine's BLAS kernel.
    written = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    committed = json.loads((SAMPLE_DIR / "truth.json").read_text(encoding="utf-8"))
    assert_same_json(written, committed, "truth")


def assert_same_json(found: object, expected: object, where: str) -> None:
    """Same structure, keys, types and values, except that floats need only agree to 1e-9 relative.

    The absolute 1e-12 lets an exact 0.0 match a solver's round-off around it.
    """
    assert type(found) is type(expected), f"{where}: {found!r} is not like {expected!r}"
    if isinstance(expected, dict):
        assert list(found) == list(expected), where
        for key, value in expected.items():
            assert_same_json(found[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(found) == len(expected), where
        for i, (a, b) in enumerate(zip(found, expected, strict=True)):
            assert_same_json(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-12), (where, found, expected)
    else:
        assert found == expected, where


def test_assert_same_json_tolerates_round_off_only_in_floats() -> None:
    expected = {"rate": 0.1 + 0.2, "stages": ["A", "B"], "n": 3}
    assert_same_json({"rate": 0.3, "stages": ["A", "B"], "n": 3}, expected, "t")
    for found in (
        {"rate": 0.3001, "stages": ["A", "B"], "n": 3},  # beyond round-off
        {"rate": 0.3, "stages": ["A", "C"], "n": 3},
        {"rate": 0.3, "stages": ["A", "B"], "n": 3.0},  # a float where an int was
        {"rate": 0.3, "stages": ["A", "B"]},
        {"n": 3, "rate": 0.3, "stages": ["A", "B"]},  # keys in another order
    ):
        with pytest.raises(AssertionError):
            assert_same_json(found, expected, "t")


def test_written_files_have_the_export_layout(tmp_path: Path) -> None:
    write_sample(tmp_path, n_deals=300, seed=2)
    deals_header = (tmp_path / "deals.csv").read_text(encoding="utf-8").splitlines()[0]
    history_lines = (tmp_path / "stage_history.csv").read_text(encoding="utf-8").splitlines()
    assert deals_header == (
        "opportunity_id,opportunity_name,account,sales_agent,lead_source,deal_type,deal_stage,"
        "close_value,currency,engage_date,close_date,last_modified,forecast_category"
    )
    assert history_lines[0] == "opportunity_id,stage,changed_at"
    assert history_lines[1].startswith("OPP-000001,Prospecting,")
    deals = pl.read_csv(tmp_path / "deals.csv", infer_schema=False)
    assert deals["close_value"].str.contains(r"^\d+\.\d\d$").all()
    assert deals["engage_date"].str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()
    # Closed deals carry the close timestamp, open deals an expected close date.
    closed = deals["deal_stage"].is_in(["Won", "Lost"])
    assert deals.filter(closed)["close_date"].str.len_chars().eq(19).all()
    assert deals.filter(~closed)["close_date"].str.len_chars().eq(10).all()
    assert (deals["currency"] == "USD").all()


def test_every_deal_starts_in_prospecting_at_creation(small) -> None:
    deals, history = small
    first = history.group_by("opportunity_id", maintain_order=True).first()
    assert first["opportunity_id"].to_list() == deals["opportunity_id"].to_list()
    assert (first["stage"] == "Prospecting").all()
    assert (first["changed_at"] == deals["engage_date"]).all()


def test_history_is_sorted_and_ends_with_the_current_stage(small) -> None:
    deals, history = small
    assert history.equals(history.sort("opportunity_id", "changed_at", maintain_order=True))
    last = history.group_by("opportunity_id", maintain_order=True).last()
    assert (last["stage"] == deals["deal_stage"]).all()
    assert (last["changed_at"] == deals["last_modified"]).all()
    closed = deals.filter(pl.col("deal_stage").is_in(["Won", "Lost"]))
    assert (closed["close_date"] == closed["last_modified"].dt.strftime("%Y-%m-%d %H:%M:%S")).all()


def test_terminal_rows_only_close_deals(small) -> None:
    deals, history = small
    terminal = history.filter(pl.col("stage").is_in(["Won", "Lost"]))
    closed_ids = deals.filter(pl.col("deal_stage").is_in(["Won", "Lost"]))["opportunity_id"]
    assert terminal["opportunity_id"].sort().to_list() == closed_ids.sort().to_list()


def test_events_lie_within_the_simulated_window(small) -> None:
    deals, history = small
    assert history["changed_at"].max() < datetime(2026, 11, 1)
    assert deals["engage_date"].min() >= datetime(2023, 11, 1)
    assert deals["last_modified"].max() <= datetime(2026, 10, 31, 23, 59, 59)


def test_open_pipeline_remains_at_the_end(small) -> None:
    deals, _ = small
    open_deals = deals.filter(pl.col("deal_stage").is_in(OPEN_STAGES))
    # ~7% of deals are open at the end with these parameters: 2000 deals leave ~150.
    assert 50 < open_deals.height < 400
    assert open_deals["close_date"].str.to_date().max() > END


def test_deals_are_lost_at_every_open_stage(small) -> None:
    deals, history = small
    highest = _highest_stage_per_deal(history)
    lost = deals["deal_stage"].to_numpy() == "Lost"
    assert set(highest[lost]) == set(STAGE_ORDER.values())


def test_regressions_and_skipped_stages_occur(small) -> None:
    _, history = small
    pairs = _consecutive_open_stage_pairs(history)
    step = pairs["order"] - pairs["previous"]
    assert (step == -1).sum() > 0
    assert (step == 2).sum() > 0
    assert step.is_in([-1, 1, 2]).all()


def test_absorption_without_regression_matches_hand_arithmetic() -> None:
    # An average deal (log-odds shift 0) leaves Prospecting forward with p = 0.70 (no regression
    # there), of which 4% skip Qualification. So P(lost at Prospecting) = 0.30 and
    # P(lost at Qualification) = 0.70 * 0.96 * (1 - 0.74) = 0.17472.
    outcomes = absorption_probabilities(np.zeros(1))[0]
    assert outcomes[1] == pytest.approx(0.30)
    assert outcomes[2] == pytest.approx(0.17472)
    assert outcomes.sum() == pytest.approx(1.0)
    metrics = stage_metrics(outcomes)
    # Reached Qualification: 0.70; lost there 0.17472; conversion = (0.70 - 0.17472) / 0.70.
    assert metrics["Prospecting"]["true_conversion_rate"] == pytest.approx(0.70)
    assert metrics["Qualification"]["true_conversion_rate"] == pytest.approx(0.7504)
    assert metrics["Prospecting"]["true_win_rate_from_stage"] == pytest.approx(outcomes[0])


def test_truth_is_consistent() -> None:
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text(encoding="utf-8"))
    assert truth["stages"] == list(OPEN_STAGES)
    metrics = truth["true_stage_metrics"]
    for stage in OPEN_STAGES:
        assert 0 < metrics[stage]["true_conversion_rate"] < 1
        assert 0 < metrics[stage]["true_win_rate_from_stage"] < 1
    # Win rate from a stage rises along the funnel; at the last stage it equals its conversion.
    win_rates = [metrics[stage]["true_win_rate_from_stage"] for stage in OPEN_STAGES]
    assert win_rates == sorted(win_rates)
    last = metrics[OPEN_STAGES[-1]]
    assert last["true_win_rate_from_stage"] == pytest.approx(last["true_conversion_rate"])
    assert truth["true_win_rate"] == pytest.approx(win_rates[0])
    worst = min(OPEN_STAGES, key=lambda stage: metrics[stage]["true_conversion_rate"])
    assert worst == truth["worst_stage"] == "Proposal"
    loads = [rep["load_share"] for rep in truth["reps"].values()]
    assert sum(loads) == pytest.approx(1.0)
    assert max(loads) / min(loads) >= 2
    # The population win rate is the load-weighted mean of the reps' win rates.
    assert truth["true_win_rate"] == pytest.approx(
        sum(rep["load_share"] * rep["true_win_rate"] for rep in truth["reps"].values())
    )


@pytest.mark.slow
def test_empirical_stage_rates_match_truth_within_four_standard_errors() -> None:
    pipeline = simulate(100_000, seed=3)
    deals, history = pipeline.deals, pipeline.stage_history
    # Only deals created a year before the end: nearly all are resolved. In recent cohorts the
    # still-open deals are disproportionately future wins, which biases resolved-only rates.
    cohort = (deals["engage_date"] < datetime(2025, 11, 1)).to_numpy()
    highest = _highest_stage_per_deal(history)
    status = deals["deal_stage"].to_numpy()
    won, lost = cohort & (status == "Won"), cohort & (status == "Lost")
    for order, stage in enumerate(OPEN_STAGES, start=1):
        truth = pipeline.truth["true_stage_metrics"][stage]
        advanced = (won | ((highest > order) & cohort)).sum()
        lost_here = (lost & (highest == order)).sum()
        conversion = advanced / (advanced + lost_here)
        true_conversion = truth["true_conversion_rate"]
        conversion_se = np.sqrt(true_conversion * (1 - true_conversion) / (advanced + lost_here))
        assert abs(conversion - true_conversion) < 4 * conversion_se, stage

        resolved = won.sum() + (lost & (highest >= order)).sum()
        win_rate = won.sum() / resolved
        true_win_rate = truth["true_win_rate_from_stage"]
        win_rate_se = np.sqrt(true_win_rate * (1 - true_win_rate) / resolved)
        assert abs(win_rate - true_win_rate) < 4 * win_rate_se, stage
