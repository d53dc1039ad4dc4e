"""Bookings targets and P(hit): the config, forecast_targets on a hand fixture, P(hit) against the
sample's own bands, the backtest's Brier score by hand, and the report in English and Italian.

Hand fixture (as_of 2026-03-01 00:00, calendar fiscal year, lookback 365 days, horizon 4 months:
March to June 2026). The history of tests/test_forecast.py (owner unset, pipeline 'default'):
W0..W29 won (100 each) closing 2025-12-20 + i days (12 in December, 18 in January), created 10 days
before; L0..L29 lost (100 each), created 40 days before closing on 2025-12-01 + i days. Besides:
- won: A1 (owner Ann, 500, closed 2026-01-10), A2 (Ann, 300, 2026-02-15), B1 (Bob, 200,
  2026-02-20), each created 10 days before;
- open in stage 1: O1 (Ann, 1000, 2 days in stage), O2 (Bob, 2000, 25 days), O3 (Ann, no amount,
  5 days), each created when it entered the stage.
Closed in Q1 2026 before as_of: 18 x 100 + 500 + 300 + 200 = 2800, of which Ann 800 and Bob 200;
open pipeline 1000 + 2000 = 3000 (O3 has no amount), Ann 1000, Bob 2000.
Created in the lookback window: W 3000 + L 3000 + A 800 + B1 200 + O1 1000 + O2 2000 = 10000:
Ann's share of new pipeline is 1800 / 10000 = 0.18, Bob's 2200 / 10000 = 0.22.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.config import Target, load_config, parse_config
from pipeline_analytics.errors import ConfigError
from pipeline_analytics.forecast import EngineSettings, run_forecast
from pipeline_analytics.forecast.baselines import Quantiles
from pipeline_analytics.forecast.engine import forecast
from pipeline_analytics.forecast.selection import choose_headline
from pipeline_analytics.forecast.targets import headline_paths, period_bounds, targets_frame
from pipeline_analytics.report import render_report
from pipeline_analytics.sql_files import sql_statement
from tests.conftest import SAMPLE_DIR, sample_config_text
from tests.mart_fixtures import add_deal, add_stages, add_stint, build_as_of, new_warehouse, rows
from tests.test_forecast import add_history

AS_OF = datetime(2026, 3, 1)
TARGETS = (
    Target("2026-Q1", 5000.0),
    Target("2026-Q1", 1000.0, owner="Ann"),
    Target("2026-02", 100.0, owner="Bob"),
    Target("2025-12", 5000.0),
    Target("2026", 20000.0),
    Target("2026-Q2", 3000.0, pipeline="default"),
    Target("2026-Q2", 3000.0),
)
SETTINGS = EngineSettings(horizon_months=4, simulations=20_000, seed=11, targets=TARGETS)


# --- config ---------------------------------------------------------------------------------------


def config_with(tmp_path: Path, **extra: object) -> dict:
    (tmp_path / "deals.csv").write_text("deal_id,stage\n", encoding="utf-8")
    return {"sources": [{"name": "crm", "adapter": "generic", "path": "deals.csv"}], **extra}


def test_targets_from_the_config_the_csv_and_report_targets(tmp_path: Path):
    raw = config_with(
        tmp_path,
        targets=[
            {"period": "2026-Q4", "amount": 3_500_000},
            {"period": "2026-11", "amount": 900_000.5, "owner": "Ann"},
            {"period": "2027", "amount": 14_000_000, "pipeline": "Renewals"},
        ],
        report={"targets": {"2027-Q1": 3_800_000}},
    )
    config = parse_config(raw, tmp_path / "p.toml")
    assert config.targets == (
        Target("2026-Q4", 3_500_000.0),
        Target("2026-11", 900_000.5, owner="Ann"),
        Target("2027", 14_000_000.0, pipeline="Renewals"),
        Target("2027-Q1", 3_800_000.0),  # [report] targets keep their meaning: company-wide
    )
    assert [t.period_kind for t in config.targets] == ["quarter", "month", "year", "quarter"]
    (tmp_path / "targets.csv").write_text(
        "period,amount,owner,pipeline\n2026-Q4,100,Ann,\n\n2026-Q4,250,,New\n", encoding="utf-8"
    )
    config = parse_config(config_with(tmp_path, targets="targets.csv"), tmp_path / "p.toml")
    assert config.targets == (
        Target("2026-Q4", 100.0, owner="Ann"),
        Target("2026-Q4", 250.0, pipeline="New"),
    )


@pytest.mark.parametrize(
    ("targets", "where"),
    [
        ([{"period": "2026-Q5", "amount": 1}], "key 'targets[0].period'"),
        ([{"period": "2026-13", "amount": 1}], "key 'targets[0].period'"),
        ([{"period": "2026-Q1"}], "key 'targets[0].amount'"),
        ([{"period": "2026-Q1", "amount": -5}], "key 'targets[0].amount'"),
        ([{"period": "2026-Q1", "amount": "lots"}], "key 'targets[0].amount'"),
        (
            [{"period": "2026-Q1", "amount": 1, "owner": "A", "pipeline": "B"}],
            "targets[0].pipeline",
        ),
        ([{"period": "2026-Q1", "amount": 1, "team": "A"}], "key 'targets[0].team'"),
        ([{"period": "2026-Q1", "amount": 1, "owner": ""}], "key 'targets[0].owner'"),
        ([{"period": "2026-Q1", "amount": 1}, {"period": "2026-Q1", "amount": 2}], "2026-Q1"),
        (42, "key 'targets'"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, targets: object, where: str):
    with pytest.raises(ConfigError) as error:
        parse_config(config_with(tmp_path, targets=targets), tmp_path / "p.toml")
    assert where in str(error.value)


def test_a_report_target_set_twice_is_refused(tmp_path: Path):
    raw = config_with(
        tmp_path,
        targets=[{"period": "2026-Q4", "amount": 1}],
        report={"targets": {"2026-Q4": 2}},
    )
    with pytest.raises(ConfigError) as error:
        parse_config(raw, tmp_path / "p.toml")
    assert "2026-Q4" in str(error.value) and "twice" in str(error.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("period,amount\n2026-Q1,100\n2026-Q1,abc\n", "row 3, column 'amount'"),
        ("period,amount\n2026-Q9,100\n", "row 2, column 'period'"),
        ("period,amount,owner,pipeline\n2026-Q1,100,Ann,New\n", "row 2, column 'pipeline'"),
        ("period,amount\n2026-Q1\n", "row 2"),
        ("period,quota\n2026-Q1,100\n", "row 1"),
        ("", "empty"),
    ],
)
def test_targets_file_errors_name_file_row_and_column(tmp_path: Path, text: str, where: str):
    (tmp_path / "targets.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        parse_config(config_with(tmp_path, targets="targets.csv"), tmp_path / "p.toml")
    assert "targets.csv" in str(error.value) and where in str(error.value)


def test_a_missing_targets_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError) as error:
        parse_config(config_with(tmp_path, targets="missing.csv"), tmp_path / "p.toml")
    assert "missing.csv" in str(error.value)


@pytest.mark.parametrize(
    ("period", "fiscal_start", "bounds"),
    [
        ("2026-Q4", 1, (date(2026, 10, 1), date(2027, 1, 1))),
        ("2026-11", 1, (date(2026, 11, 1), date(2026, 12, 1))),
        ("2027", 1, (date(2027, 1, 1), date(2028, 1, 1))),
        # A February fiscal year is named by the calendar year it ends in: FY2027 starts Feb 2026.
        ("2027-Q1", 2, (date(2026, 2, 1), date(2026, 5, 1))),
        ("2027-Q4", 2, (date(2026, 11, 1), date(2027, 2, 1))),
        ("2027", 2, (date(2026, 2, 1), date(2027, 2, 1))),
        ("2026-11", 2, (date(2026, 11, 1), date(2026, 12, 1))),  # a month is a calendar month
    ],
)
def test_period_bounds(period: str, fiscal_start: int, bounds: tuple[date, date]):
    assert period_bounds(period, fiscal_start) == bounds


# --- forecast_targets on the hand fixture ---------------------------------------------------------


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def build_hand_warehouse(folder: Path) -> Path:
    con = new_warehouse(folder)
    add_stages(con, 2)
    add_history(con)
    for deal_id, owner, amount, closed in (
        ("A1", "Ann", 500.0, datetime(2026, 1, 10)),
        ("A2", "Ann", 300.0, datetime(2026, 2, 15)),
        ("B1", "Bob", 200.0, datetime(2026, 2, 20)),
    ):
        created = closed - timedelta(days=10)
        add_deal(
            con,
            deal_id,
            created_at=created,
            status="won",
            closed_at=closed,
            amount_base=amount,
            owner=owner,
            snapshot_at=AS_OF,
        )
        add_stint(con, deal_id, 1, created, closed)
    # O2's CRM close date is after Q1: it covers Q2's target, not Q1's.
    for deal_id, owner, amount, days, expected_close in (
        ("O1", "Ann", 1000.0, 2, None),
        ("O2", "Bob", 2000.0, 25, date(2026, 4, 20)),
        ("O3", "Ann", None, 5, None),
    ):
        add_deal(
            con,
            deal_id,
            created_at=ago(days),
            stage_order=1,
            amount_base=amount,
            owner=owner,
            snapshot_at=AS_OF,
            expected_close_date=expected_close,
        )
        add_stint(con, deal_id, 1, ago(days), None)
    build_as_of(con, AS_OF)
    con.close()
    return folder / "w.duckdb"


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand fixture with one forecast run (run 1) storing TARGETS."""
    folder = tmp_path_factory.mktemp("targets")
    built = build_hand_warehouse(folder)
    con = duckdb.connect(str(built))
    assert run_forecast(con, SETTINGS) == 1
    con.close()
    return built


@pytest.fixture
def con(hand_run: Path, tmp_path: Path):
    shutil.copy(hand_run, tmp_path / "w.duckdb")
    con = new_warehouse(tmp_path)
    yield con
    con.close()


def stored_targets(con: duckdb.DuckDBPyConnection, run_id: int = 1) -> dict[tuple, dict]:
    found = rows(con, "select * from forecast_targets where run_id = ?", [run_id])
    return {(r["period"], r["owner"], r["pipeline"]): r for r in found}


def test_facts_coverage_and_required_win_rate_by_hand(con):
    found = stored_targets(con)
    assert len(found) == len(TARGETS)
    q1 = found[("2026-Q1", None, None)]
    assert (q1["period_kind"], q1["period_start"], q1["period_end"]) == (
        "quarter",
        date(2026, 1, 1),
        date(2026, 4, 1),
    )
    assert q1["closed_to_date"] == pytest.approx(2800.0)
    assert q1["remaining"] == pytest.approx(2200.0)
    assert q1["open_pipeline"] == pytest.approx(1000.0)  # O1; O2 is expected in April
    assert q1["coverage"] == pytest.approx(1000 / 2200)
    assert q1["required_win_rate"] == pytest.approx(2200 / 1000)
    ann = found[("2026-Q1", "Ann", None)]
    assert (ann["closed_to_date"], ann["open_pipeline"]) == (
        pytest.approx(800),
        pytest.approx(1000),
    )
    assert ann["coverage"] == pytest.approx(5.0)
    assert ann["required_win_rate"] == pytest.approx(0.2)
    pipeline = found[("2026-Q2", None, "default")]
    assert pipeline["closed_to_date"] == 0
    assert pipeline["required_win_rate"] == pytest.approx(1.0)  # 3000 to book, 3000 open
    for row in found.values():
        assert row["p50_gap"] is None or row["p50_gap"] == pytest.approx(row["p50"] - row["target"])


def test_ended_periods_are_facts_and_periods_beyond_the_horizon_have_no_p_hit(con):
    found = stored_targets(con)
    bob = found[("2026-02", "Bob", None)]  # ends at as_of: 200 closed against 100
    assert (bob["closed_to_date"], bob["p_hit"], bob["p50"]) == (200, 1.0, 200)
    assert bob["coverage"] is None and bob["required_win_rate"] is None
    december = found[("2025-12", None, None)]  # 12 x 100 won against 5000
    assert (december["closed_to_date"], december["p_hit"]) == (pytest.approx(1200), 0.0)
    year = found[("2026", None, None)]  # ends 2027-01-01, the horizon 2026-07-01
    assert year["p_hit"] is None and year["p50"] is None and year["p50_gap"] is None
    assert year["closed_to_date"] == pytest.approx(2800)
    config = json.loads(rows(con, "select config from forecast_runs where run_id = 1")[0]["config"])
    (why,) = config["targets"]["without_p_hit"]
    assert (why["period"], why["owner"]) == ("2026", None)
    assert "ends after the forecast horizon (2026-07-01" in why["reason"]


def test_an_owner_no_deal_carries_has_no_p_hit_and_says_why(con, tmp_path: Path):
    """Zoe owns nothing the data knows (a misspelt name, or an export without owners): no 0%
    blaming her, but no P(hit), the reason stored, and the report saying so."""
    zoe = Target("2026-Q2", 700.0, owner="Zoe")
    run_id = run_forecast(con, dataclasses.replace(SETTINGS, targets=(*TARGETS, zoe)))
    found = stored_targets(con, run_id)
    row = found[("2026-Q2", "Zoe", None)]
    assert (row["closed_to_date"], row["open_pipeline"], row["p_hit"], row["p50"]) == (
        0,
        0,
        None,
        None,
    )
    assert found[("2026-Q1", "Ann", None)]["p_hit"] is not None
    sql = "select config from forecast_runs where run_id = ?"
    config = json.loads(rows(con, sql, [run_id])[0]["config"])
    reasons = {w["owner"]: w["reason"] for w in config["targets"]["without_p_hit"]}
    assert reasons["Zoe"].startswith("no deal known at as_of has owner 'Zoe'")
    text = visible(render_report(con, output_dir=tmp_path).read_text(encoding="utf-8"))
    quota = text[text.index("Quota attainment") :]
    assert "Zoe Q2 2026 700 0 0.0% — no deal of this owner in the data" in quota


def test_facts_as_of_an_earlier_moment_know_nothing_later(con):
    """As of 2026-02-01 only January's wins are in: 18 x 100 + A1's 500; no deal of the fixture
    is open then (O1..O3 were created in February), so nothing covers the rest."""
    run_id = run_forecast(con, SETTINGS, as_of=datetime(2026, 2, 1))
    q1 = stored_targets(con, run_id)[("2026-Q1", None, None)]
    assert (q1["closed_to_date"], q1["remaining"]) == (pytest.approx(2300), pytest.approx(2700))
    assert (q1["open_pipeline"], q1["coverage"], q1["required_win_rate"]) == (0, 0, None)
    # February is still ahead, and none of Bob's deals is known yet (B1 and O2 are created later):
    # no P(hit) rather than a 0% blaming him.
    bob = stored_targets(con, run_id)[("2026-02", "Bob", None)]
    assert (bob["closed_to_date"], bob["p_hit"]) == (0, None)


def test_company_p_hit_is_the_share_of_the_runs_simulated_totals(con):
    """Without a backtest the engine leads unscaled: P(hit) of the company's Q1 target is the share
    of the engine's simulated quarter totals (stored run, same seed) at or above it."""
    fc = forecast(con, AS_OF, SETTINGS)
    quarter = fc.total[:, :1].sum(axis=1) + 2800 - fc.closed  # March, plus Jan and Feb won
    found = stored_targets(con)
    assert found[("2026-Q1", None, None)]["p_hit"] == pytest.approx(np.mean(quarter >= 5000))
    q2 = found[("2026-Q2", None, None)]
    assert q2["p_hit"] == pytest.approx(np.mean(fc.total[:, 1:4].sum(axis=1) >= 3000))
    stored_p50 = rows(
        con,
        "select p50 from forecast_periods where run_id = 1 and period = 'quarter' "
        "and period_start = '2026-04-01' and component = 'headline'",
    )[0]["p50"]
    assert q2["p50"] == pytest.approx(stored_p50)


def test_segments_are_the_same_draws_as_the_total(con):
    """Owner paths add up to the company's; an owner's open paths average its deals' expected
    values from forecast_deals (win probability x amount), and its new pipeline share is its
    share of pipeline created in the lookback (0.18 for Ann, 0.22 for Bob)."""
    fc = forecast(con, AS_OF, SETTINGS)
    assert fc.segments is not None
    paths = fc.segments.open_pipeline
    assert np.allclose(paths.sum(axis=1), fc.open_pipeline)
    keys = fc.segments.inputs.segments
    shares = {
        (r["owner_key"], r["pipeline_key"]): r["new_share"] for r in keys.iter_rows(named=True)
    }
    assert shares == {
        ("Ann", "default"): pytest.approx(0.18),
        ("Bob", "default"): pytest.approx(0.22),
        (None, "default"): pytest.approx(0.60),
    }
    ann = [i for i, r in enumerate(keys.iter_rows(named=True)) if r["owner_key"] == "Ann"]
    expected = rows(
        con,
        "select sum(expected_value_base) as ev from forecast_deals "
        "where run_id = 1 and deal_id in ('O1', 'O3')",
    )[0]["ev"]
    simulated = paths[:, ann].sum(axis=(1, 2))
    # The mean of 20,000 draws of a 1000-deal win: within 4 standard errors.
    assert simulated.mean() == pytest.approx(expected, abs=4 * simulated.std() / 20_000**0.5)
    # The pipeline target holds every deal: its P(hit) is the company's at the same amount.
    found = stored_targets(con)
    assert found[("2026-Q2", None, "default")]["p_hit"] == pytest.approx(
        found[("2026-Q2", None, None)]["p_hit"]
    )


def test_owner_p_hit_is_the_share_of_its_paths(con):
    """Ann's Q1: 800 closed + her March open bookings + 18% of March's new pipeline."""
    fc = forecast(con, AS_OF, SETTINGS)
    assert fc.segments is not None
    keys = fc.segments.inputs.segments
    ann = (keys["owner_key"] == "Ann").fill_null(False).to_numpy()
    march = 800 + fc.segments.open_pipeline[:, ann, 0].sum(axis=1) + 0.18 * fc.new_pipeline[:, 0]
    found = stored_targets(con)
    assert found[("2026-Q1", "Ann", None)]["p_hit"] == pytest.approx(np.mean(march >= 1000))
    assert found[("2026-Q1", "Ann", None)]["p50"] == pytest.approx(np.percentile(march, 50))


def test_without_owner_targets_the_simulation_is_unchanged(con):
    """Company-wide targets add no segment: the same seed gives the same numbers as no target.
    (Owner targets change no draw either: the sample's test below, where deals of one outcome
    class belong to different owners, shows it.)"""
    plain = forecast(con, AS_OF, dataclasses.replace(SETTINGS, targets=()))
    company = forecast(con, AS_OF, dataclasses.replace(SETTINGS, targets=TARGETS[:1]))
    assert np.array_equal(plain.total, company.total)


def test_the_headline_band_moves_the_paths_onto_its_quantiles():
    paths = np.random.default_rng(5).gamma(4.0, 250.0, 40_000)
    e10, e50, e90 = np.percentile(paths, [10, 50, 90])
    shown = Quantiles(None, e50 - 1.5 * (e50 - e10), e50 + 200, e50 + 200 + 0.7 * (e90 - e50))
    moved = headline_paths(paths, shown)
    # (the median of an even count averages the two middle paths, one each side of the kink)
    quantiles = np.percentile(moved, [10, 50, 90])
    assert quantiles == pytest.approx([shown.p10, shown.p50, shown.p90], rel=1e-4)
    assert np.mean(moved >= shown.p50) == pytest.approx(0.5, abs=0.001)
    assert np.mean(moved >= shown.p10) == pytest.approx(0.9, abs=0.001)
    assert np.mean(moved >= shown.p90) == pytest.approx(0.1, abs=0.001)
    assert np.all(np.diff(moved[np.argsort(paths)]) >= 0)  # the order of the paths is kept


# --- the sample: P(hit) at the displayed P50 and P10 ----------------------------------------------


@pytest.mark.slow
def test_p_hit_at_the_sample_next_quarters_p50_and_p10(sample_warehouse: Path, tmp_path: Path):
    """The Done-when: targets at the next quarter's displayed P50 and P10 read P(hit) 0.5 +- 0.05
    and about 0.9. Targets adding no segment (company-wide, or the sample's one pipeline) leave
    the draws of the sample's run as they were (same seed)."""
    shutil.copy(sample_warehouse, tmp_path / "w.duckdb")
    con = new_warehouse(tmp_path)
    shown = rows(con, NEXT_QUARTER_SQL, [1])[0]
    con.close()
    config = sample_config_text()
    for name in ("deals.csv", "stage_history.csv", "activities.csv"):
        config = config.replace(f'"{name}"', f'"{SAMPLE_DIR / name}"')
    extra = "".join(
        f'\n[[targets]]\nperiod = "2027-Q1"\namount = {shown[level]!r}\n{who}\n'
        for level, who in (
            ("p50", ""),
            ("p10", 'owner = "Avery Chen"'),
            ("p90", 'pipeline = "default"'),
        )
    )
    (tmp_path / "p.toml").write_text(config + extra, encoding="utf-8")
    config_file, db = str(tmp_path / "p.toml"), str(tmp_path / "w.duckdb")
    assert main(["-q", "--config", config_file, "--db", db, "forecast"]) == 0
    con = new_warehouse(tmp_path)
    # The owner target made Avery Chen a segment, which changes no draw: the quarter is unchanged.
    assert rows(con, NEXT_QUARTER_SQL, [2])[0]["p50"] == shown["p50"]
    found = {r["target"]: r for r in rows(con, "select * from forecast_targets where run_id = 2")}
    assert found[shown["p50"]]["p_hit"] == pytest.approx(0.5, abs=0.05)
    # The sample has one pipeline: its target reads the whole simulation, at the P90 about 0.1.
    assert found[shown["p90"]]["p_hit"] == pytest.approx(0.1, abs=0.03)
    assert 0 < found[shown["p10"]]["p50"] < shown["p50"]  # Avery Chen's part of the quarter

    # Without owner targets: the very draws of run 1, so P(hit) at its P50 and P10 is exact.
    settings = EngineSettings(
        horizon_months=12,
        simulations=10_000,
        seed=7,
        targets=(
            Target("2027-Q1", shown["p50"]),
            Target("2027-Q1", shown["p10"], pipeline="default"),
        ),
        cashflow=load_config(SAMPLE_DIR / "pipeline.toml").cashflow,
    )
    as_of = con.execute("select as_of from build_params").fetchall()[0][0]
    fc = forecast(con, as_of, settings)
    headline = choose_headline(con, as_of, available=("engine", *fc.crosschecks))
    frame = targets_frame(fc, headline)
    assert frame["p50"].to_list() == pytest.approx([shown["p50"]] * 2)
    assert frame["p_hit"].to_list() == pytest.approx([0.5, 0.9], abs=0.01)
    # A headline band scaled by 1.4: P(hit) at its own, wider P10 is still 0.9.
    wide = dataclasses.replace(headline, band=dataclasses.replace(headline.band, scale=1.4))
    wide_p10 = shown["p50"] - 1.4 * (shown["p50"] - shown["p10"])
    assert fc.segments is not None
    facts = fc.segments.inputs.facts.with_columns(target=pl.Series([shown["p50"], wide_p10]))
    moved = dataclasses.replace(
        fc,
        segments=dataclasses.replace(
            fc.segments, inputs=dataclasses.replace(fc.segments.inputs, facts=facts)
        ),
    )
    assert targets_frame(moved, wide)["p_hit"].to_list() == pytest.approx([0.5, 0.9], abs=0.01)
    con.close()


NEXT_QUARTER_SQL = (
    "select p10, p50, p90 from forecast_periods where run_id = ? and period = 'quarter' and "
    "period_start = '2027-01-01' and component = 'headline'"  # as_of 2026-10-31: Q4 is running
)


# --- the backtest's Brier score -------------------------------------------------------------------


def test_brier_score_and_hit_rate_by_hand(tmp_path: Path):
    """Four forecasts with P10 80, P50 100, P90 120 and actuals 130, 110, 90, 70: the P10 target
    (P(hit) 0.9) is hit 3 times, the P50 target twice, the P90 target once.
    Brier at P10: (3 x 0.1² + 0.9²) / 4 = 0.21; at P50: 0.25; at P90: (0.9² + 3 x 0.1²) / 4 = 0.21.
    Scaled x2 the targets are 60 and 140: all hit P10, none P90, Brier 0.01 each."""
    con = new_warehouse(tmp_path)
    values = [
        (datetime(2026, 1, 1), 1, "engine", 130.0, 80.0, 100.0, 120.0),
        (datetime(2026, 2, 1), 1, "engine", 110.0, 80.0, 100.0, 120.0),
        (datetime(2026, 3, 1), 1, "engine", 90.0, 80.0, 100.0, 120.0),
        (datetime(2026, 3, 1), 2, "engine", 70.0, 80.0, 100.0, 120.0),
        (datetime(2026, 3, 1), 3, "engine", 70.0, None, 100.0, None),  # no band: not scored
        (datetime(2026, 3, 1), 1, "run_rate", 1.0, 80.0, 100.0, 120.0),  # another method
    ]
    con.executemany(
        "insert into forecast_backtest (origin, horizon_months, method, actual, p10, p50, p90) "
        "values (?, ?, ?, ?, ?, ?, ?)",
        values,
    )
    sql = sql_statement("forecast/target_brier")
    found = {r["band_level"]: r for r in rows_named(con, sql, {"method": "engine", "scale": 1.0})}
    assert {k: r["forecasts"] for k, r in found.items()} == {"p10": 4, "p50": 4, "p90": 4}
    assert [found[k]["hit_rate"] for k in ("p10", "p50", "p90")] == [0.75, 0.5, 0.25]
    assert [found[k]["brier"] for k in ("p10", "p50", "p90")] == pytest.approx([0.21, 0.25, 0.21])
    scaled = {r["band_level"]: r for r in rows_named(con, sql, {"method": "engine", "scale": 2.0})}
    assert [scaled[k]["hit_rate"] for k in ("p10", "p90")] == [1.0, 0.0]
    assert [scaled[k]["brier"] for k in ("p10", "p90")] == pytest.approx([0.01, 0.01])
    con.close()


def rows_named(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    result = con.execute(sql, params)
    names = [c[0] for c in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


# --- the report -----------------------------------------------------------------------------------


def visible(page: str) -> str:
    import html
    import re

    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def test_report_leads_with_p_hit_and_shows_quota_attainment(con, tmp_path: Path):
    p_hit = stored_targets(con)[("2026-Q1", None, None)]["p_hit"]
    ann = stored_targets(con)[("2026-Q1", "Ann", None)]["p_hit"]
    text = visible(render_report(con, output_dir=tmp_path / "en").read_text(encoding="utf-8"))
    lead = text.index("Chance of hitting the target, Q1 2026")
    assert lead < text.index("Bookings forecast, Q1 2026")
    assert f"Chance of hitting the target, Q1 2026 {p_hit:.0%}" in text
    assert "$2.80K of $5.00K booked so far" in text
    # Only O1 can close in Q1 (O2 is expected in April): new deals must make up the rest.
    assert (
        "The open pipeline of $1.00K is less than the $2.20K still to book: new deals must close"
        in text
    )
    assert f"Chance of reaching the target: {p_hit:.0%}." in text
    quota = text[text.index("Quota attainment") :]
    # Ann: target 1,000, 800 closed (80.0%); Bob's February: 200 of 100 (200.0%), a fact.
    assert "Ann Q1 2026 1,000 800 80.0%" in quota and f"{ann:.0%}" in quota
    assert "Bob Feb 2026 100 200 200.0% 200 100%" in quota
    assert "P(hit) scored on the backtest" not in text  # no backtest stored: nothing to score

    italian = visible(
        render_report(con, output_dir=tmp_path / "it", language="it").read_text(encoding="utf-8")
    )
    assert "Probabilità di raggiungere l'obiettivo, T1 2026" in italian
    assert "Raggiungimento degli obiettivi individuali" in italian
    assert "2.800 USD di 5.000 USD acquisiti finora" in italian
    assert "La pipeline aperta di 1.000 USD è inferiore ai 2.200 USD ancora da acquisire" in italian


def test_a_year_beyond_the_horizon_says_why(con, tmp_path: Path):
    """Only the 2026 target is company-wide and not ended: its card says it cannot be simulated."""
    con.execute("delete from forecast_targets where period != '2026'")
    text = visible(render_report(con, output_dir=tmp_path).read_text(encoding="utf-8"))
    assert "Chance of hitting the target, 2026 —" in text
    assert "2026 ends after the forecast horizon, so the chance of reaching its target" in text


def test_report_scores_p_hit_on_the_backtest_in_english_and_italian(con, tmp_path: Path):
    con.executemany(
        "insert into forecast_backtest (origin, horizon_months, method, actual, p10, p50, p90) "
        "values (?, 1, 'engine', ?, 80, 100, 120)",
        [(datetime(2025, 9 + i, 1), actual) for i, actual in enumerate((130.0, 110.0, 90.0, 70.0))],
    )
    text = visible(render_report(con, output_dir=tmp_path / "en").read_text(encoding="utf-8"))
    table = text[text.index("P(hit) scored on the backtest") :]
    assert table.startswith(
        "P(hit) scored on the backtest Target Predicted P(hit) Forecasts Share hit Brier score "
        "Target at P10 90% 4 75% 0.210 Target at P50 50% 4 50% 0.250 Target at P90 10% 4 25% 0.210"
    )
    italian = visible(
        render_report(con, output_dir=tmp_path / "it", language="it").read_text(encoding="utf-8")
    )
    assert "Obiettivo al P10 90% 4 75% 0,210" in italian
