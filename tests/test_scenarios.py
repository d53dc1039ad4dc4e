"""What-if scenarios and capacity (docs/forecasting.md "What-if scenarios", docs/metrics.md).

Scenario effects are checked against numbers computed apart from the scenario code: the base
run's own per-deal win chances and amounts (forecast_deals), the ramp by hand, the median rep's
creation from the deals themselves; capacity on a hand-made fixture of the marts it reads.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.config import Scenario, parse_config
from pipeline_analytics.errors import ConfigError
from pipeline_analytics.forecast import EngineSettings
from pipeline_analytics.forecast.asof import build_as_of
from pipeline_analytics.forecast.calendar import periods
from pipeline_analytics.forecast.engine import EngineForecast, forecast
from pipeline_analytics.forecast.scenarios import added_created_pipeline, ramp
from pipeline_analytics.report.forecast_data import latest_run
from pipeline_analytics.report.model import Heading, Note, Table
from pipeline_analytics.report.render import read_context
from pipeline_analytics.report.sections.capacity import capacity_blocks
from pipeline_analytics.report.sections.scenarios import scenario_blocks
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import connect
from tests.conftest import SAMPLE_DIR, sample_config_text

# --- config -----------------------------------------------------------------------------------

MINIMAL = {"sources": [{"name": "crm", "adapter": "generic", "path": "deals.csv"}]}


def parsed(scenarios: object) -> tuple[Scenario, ...]:
    return parse_config({**MINIMAL, "scenarios": scenarios}, Path("p.toml")).scenarios


def test_scenarios_parse_with_defaults_in_config_order():
    found = parsed(
        {
            "better_win": {"win_rate_factor": 1.2},
            "lose-big-one": {"exclude_deals": ["D-1", "D-2"], "amount_factor": 2},
            "hire2": {"added_reps": 2, "ramp_months": 3, "cycle_factor": 0.8},
        }
    )
    assert [s.name for s in found] == ["better_win", "lose-big-one", "hire2"]
    assert found[0] == Scenario("better_win", win_rate_factor=1.2)
    assert found[1].exclude_deals == ("D-1", "D-2") and found[1].amount_factor == 2.0
    assert (found[2].added_reps, found[2].ramp_months, found[2].cycle_factor) == (2, 3, 0.8)
    assert parse_config(MINIMAL, Path("p.toml")).scenarios == ()


@pytest.mark.parametrize(
    ("scenarios", "key"),
    [
        ({"Big Win": {}}, "scenarios.Big Win"),
        ({"a": {"win_rate_factor": 0}}, "scenarios.a.win_rate_factor"),
        ({"a": {"cycle_factor": -1.5}}, "scenarios.a.cycle_factor"),
        ({"a": {"amount_factor": "x"}}, "scenarios.a.amount_factor"),
        ({"a": {"win_rate": 1.2}}, "scenarios.a.win_rate"),
        ({"a": {"added_reps": -1}}, "scenarios.a.added_reps"),
        ({"a": {"added_reps": 1.5}}, "scenarios.a.added_reps"),
        ({"a": {"ramp_months": -2}}, "scenarios.a.ramp_months"),
        ({"a": {"exclude_deals": "D-1"}}, "scenarios.a.exclude_deals"),
        ({"a": {"exclude_deals": [1, 2]}}, "scenarios.a.exclude_deals"),
        ({"a": 3}, "scenarios.a"),
        ([1], "scenarios"),
    ],
)
def test_scenario_config_errors_name_the_key(scenarios: object, key: str):
    with pytest.raises(ConfigError) as raised:
        parsed(scenarios)
    assert f"'{key}'" in str(raised.value)


def test_ramp_and_added_pipeline_by_hand():
    # Month k of a new rep: min(k / ramp_months, 1) of the median rep's creation.
    assert ramp(4, 6).tolist() == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert ramp(0, 3).tolist() == [1.0, 1.0, 1.0]
    added = added_created_pipeline(Scenario("h", added_reps=2, ramp_months=4), 1000.0, 6)
    assert added.tolist() == [500.0, 1000.0, 1500.0, 2000.0, 2000.0, 2000.0]
    assert not added_created_pipeline(Scenario("h", added_reps=2), None, 3).any()


# --- the engine on the sample -----------------------------------------------------------------

CONFIG = SAMPLE_DIR / "pipeline.toml"
BASE = EngineSettings(seed=7, simulations=4000, crosschecks=False)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("scenarios") / "w.duckdb"
    for command in ("ingest", "build"):
        assert main(["-q", "--config", str(CONFIG), "--db", str(db), command]) == 0
    return db


@pytest.fixture(scope="module")
def sample_con(sample_db: Path):
    con = duckdb.connect(str(sample_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def base(sample_con: duckdb.DuckDBPyConnection) -> EngineForecast:
    return forecast(sample_con, build_as_of(sample_con), BASE)


def run(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> EngineForecast:
    return forecast(con, build_as_of(con), dataclasses.replace(BASE, scenario=scenario))


def quarter_totals(fc: EngineForecast) -> np.ndarray:
    """Simulated totals of the first fiscal quarter forecast, the months booked before included."""
    quarter = next(p for p in periods(fc.grid, fc.fiscal_year_start_month) if p.kind == "quarter")
    first = fc.grid.starts[0]
    before = sum(v for m, v in fc.booked_before.items() if quarter.start <= m < first)
    return fc.total[:, list(quarter.months)].sum(axis=1) + before


@pytest.mark.slow
def test_all_factors_one_reproduce_the_base_exactly(sample_con, base):
    same = run(sample_con, Scenario("same"))
    np.testing.assert_array_equal(same.total, base.total)
    np.testing.assert_array_equal(same.cash.billings, base.cash.billings)


@pytest.mark.slow
def test_win_rate_factor_scales_each_deal_and_new_pipeline(sample_con, base):
    better = run(sample_con, Scenario("better", win_rate_factor=1.2))
    assert np.median(quarter_totals(better)) > np.median(quarter_totals(base))
    # Expected open-pipeline bookings over the horizon, from the base's own per-deal numbers.
    amount = base.deals["amount_base"].to_numpy()
    chance = base.deals["win_probability"].to_numpy()
    expected = np.nansum(amount * np.minimum(1.2 * chance, 1.0))
    assert better.open_pipeline.sum(axis=1).mean() == pytest.approx(expected, rel=0.01)
    # New pipeline's create-to-won share is far below 1/1.2 (no cap): bookings x 1.2.
    ratio = better.new_pipeline.sum(axis=1).mean() / base.new_pipeline.sum(axis=1).mean()
    assert ratio == pytest.approx(1.2, rel=0.02)


@pytest.mark.slow
def test_excluding_the_biggest_deal_lowers_p50_by_about_its_expected_value(sample_con, base):
    biggest = base.deals.sort("expected_value_base", descending=True).row(0, named=True)
    without = run(sample_con, Scenario("lose", exclude_deals=(biggest["deal_id"], "NO-SUCH")))
    drop = np.median(base.total.sum(axis=1)) - np.median(without.total.sum(axis=1))
    assert drop == pytest.approx(biggest["expected_value_base"], rel=0.1)
    assert biggest["deal_id"] not in without.deals["deal_id"].to_list()
    assert without.details["scenario"]["excluded_deals_not_open"] == ["NO-SUCH"]


@pytest.mark.slow
def test_amount_and_new_pipeline_factors(sample_con, base):
    bigger = run(sample_con, Scenario("bigger", amount_factor=1.3))
    # Same draws, amounts x 1.3 (open amounts are summed in whole cents).
    np.testing.assert_allclose(bigger.open_pipeline, 1.3 * base.open_pipeline, atol=1.0)
    np.testing.assert_allclose(bigger.new_pipeline, 1.3 * base.new_pipeline)
    more = run(sample_con, Scenario("more", new_pipeline_factor=1.5))
    np.testing.assert_array_equal(more.open_pipeline, base.open_pipeline)
    ratio = more.new_pipeline.sum(axis=1).mean() / base.new_pipeline.sum(axis=1).mean()
    assert ratio == pytest.approx(1.5, rel=0.02)


@pytest.mark.slow
def test_cycle_factor_moves_bookings_later_or_earlier(sample_con, base):
    slower = run(sample_con, Scenario("slow", cycle_factor=1.5))
    faster = run(sample_con, Scenario("fast", cycle_factor=0.7))
    p50 = {
        name: np.median(quarter_totals(fc))
        for name, fc in (("slow", slower), ("base", base), ("fast", faster))
    }
    assert p50["slow"] < p50["base"] < p50["fast"]
    # Stretched time: fewer open deals won by the horizon's end, never more.
    assert slower.open_pipeline.sum(axis=1).mean() < base.open_pipeline.sum(axis=1).mean()


@pytest.mark.slow
def test_added_reps_add_the_median_reps_creation_ramped(sample_con, base):
    hire = run(sample_con, Scenario("hire", added_reps=3, ramp_months=4))
    # The median rep's monthly creation, from the deals created in the lookback window.
    as_of = build_as_of(sample_con)
    lookback = sample_con.execute("select lookback_days from build_params").fetchall()[0][0]
    deals = sample_con.sql("select owner, amount_base, created_at from int_deals_as_of").pl()
    window = deals.filter(
        pl.col("owner").is_not_null()
        & (pl.col("amount_base") > 0)
        & (pl.col("created_at") > as_of - pl.duration(days=lookback))
        & (pl.col("created_at") <= as_of)
    )
    per_owner = window.group_by("owner").agg(pl.col("amount_base").sum())["amount_base"]
    median_monthly = float(np.median(per_owner.to_numpy())) / (lookback / (365.25 / 12))
    months = np.arange(1, base.grid.horizon + 1)
    by_month = 3 * median_monthly * np.minimum(months / 4, 1.0)
    by_month[0] *= base.grid.first_month_remaining
    added = hire.details["scenario"]["added_created_pipeline"]
    assert added == pytest.approx(by_month.sum(), rel=1e-9)
    assert hire.new_pipeline.sum(axis=1).mean() > base.new_pipeline.sum(axis=1).mean()
    np.testing.assert_array_equal(hire.open_pipeline, base.open_pipeline)


# --- the commands -----------------------------------------------------------------------------

SCENARIOS_TOML = """
[scenarios.better_win]
win_rate_factor = 1.2

[scenarios.lose_one]
exclude_deals = ["NO-SUCH-DEAL"]
"""


@pytest.fixture
def scenario_config(tmp_path: Path) -> Path:
    """The sample's config with two scenarios, its files read from the sample folder."""
    text = sample_config_text()
    for name in ("deals.csv", "stage_history.csv", "activities.csv"):
        text = text.replace(f'"{name}"', f'"{(SAMPLE_DIR / name).as_posix()}"')
    text = text.replace("simulations = 10000", "simulations = 1000")
    text = text.replace("[forecast]", "[forecast]\nbacktest_in_run = false")
    text = text.replace("[report]", f'[report]\noutput_dir = "{(tmp_path / "reports").as_posix()}"')
    path = tmp_path / "p.toml"
    path.write_text(text + SCENARIOS_TOML, encoding="utf-8")
    return path


@pytest.fixture
def warehouse(sample_db: Path, tmp_path: Path) -> Path:
    shutil.copy(sample_db, tmp_path / "w.duckdb")
    return tmp_path / "w.duckdb"


def cli(config: Path, db: Path, *args: str) -> int:
    return main(["-q", "--config", str(config), "--db", str(db), *args])


def stored_runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select run_id, scenario, seed from forecast_runs order by run_id"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_forecast_scenario_stores_a_marked_run_and_latest_readers_skip_it(
    scenario_config: Path, warehouse: Path, caplog: pytest.LogCaptureFixture
):
    assert cli(scenario_config, warehouse, "forecast") == 0
    assert cli(scenario_config, warehouse, "forecast", "--scenario", "lose_one") == 0
    assert "NO-SUCH-DEAL" in caplog.text  # the unknown id is named
    assert cli(scenario_config, warehouse, "forecast", "--scenario", "better_win") == 0
    assert stored_runs(warehouse) == [(1, None, 7), (2, "lose_one", 7), (3, "better_win", 7)]
    con = connect(warehouse)
    try:
        found = latest_run(con)
        assert found is not None and found.run_id == 1
        assert con.execute("select count(*) from forecast_changes").fetchall()[0][0] == 0
    finally:
        con.close()
    # A base run after scenario runs compares with the previous base run, not a scenario's.
    assert cli(scenario_config, warehouse, "forecast", "--horizon", "6") == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        previous = con.execute("select distinct previous_run_id from forecast_changes").fetchall()
        assert previous == [(1,)]
        assert con.execute("select max(run_id) from forecast_changes").fetchall() == [(4,)]
    finally:
        con.close()


def test_unknown_scenario_is_a_config_error_listing_the_configured(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    config = tmp_path / "p.toml"
    config.write_text(
        '[[sources]]\nname = "crm"\nadapter = "generic"\npath = "deals.csv"\n' + SCENARIOS_TOML,
        encoding="utf-8",
    )
    assert cli(config, tmp_path / "w.duckdb", "forecast", "--scenario", "nope") == 2
    err = capsys.readouterr().err
    assert "--scenario nope" in err and "better_win, lose_one" in err


@pytest.mark.slow
def test_run_stores_the_base_then_every_scenario_with_its_seed(
    scenario_config: Path, warehouse: Path
):
    assert cli(scenario_config, warehouse, "run") == 0
    assert stored_runs(warehouse) == [(1, None, 7), (2, "better_win", 7), (3, "lose_one", 7)]


# --- the report -------------------------------------------------------------------------------


def insert_run(
    con: duckdb.DuckDBPyConnection, run_id: int, scenario: str | None, changes: str = "{}"
) -> None:
    config = "{}" if scenario is None else f'{{"scenario": {changes}}}'
    con.execute(
        "insert into forecast_runs (run_id, as_of, created_at, horizon_months, simulations, seed, "
        "method, config, scenario) values (?, ?, ?, 12, 1000, 7, 'engine', ?, ?)",
        [run_id, datetime(2026, 10, 31), datetime(2026, 11, 1, 0, run_id), config, scenario],
    )
    for period, start, p50 in (
        ("quarter", date(2026, 10, 1), 100.0),
        ("year", date(2026, 1, 1), 400.0),
    ):
        for component in ("total", "headline"):
            con.execute(
                "insert into forecast_periods (run_id, period, period_start, months_forecast, "
                "complete, component, mean, p10, p50, p90) "
                "values (?, ?, ?, 3, true, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    period,
                    start,
                    component,
                    p50 * run_id,
                    p50 * run_id * 0.8,
                    p50 * run_id,
                    p50 * run_id * 1.2,
                ],
            )
    con.execute(
        "insert into forecast_bookings (run_id, month, component, mean, p10, p50, p90) "
        "values (?, date '2026-11-01', 'total', 1, 1, 1, 1)",
        [run_id],
    )


def test_scenario_table_reads_each_runs_periods_and_p_hit(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    con.execute(
        "create or replace table build_params as select timestamp '2026-10-31' as as_of, "
        "365 as lookback_days, 'USD' as currency, now()::timestamp as built_at"
    )
    insert_run(con, 1, None)
    insert_run(con, 2, "better_win")
    insert_run(con, 3, "better_win", '{"win_rate_factor": 1.2, "cycle_factor": 1.0}')
    insert_run(
        con,
        4,
        "hire",
        '{"added_reps": 2, "ramp_months": 3, "exclude_deals": ["A", "B"],'
        ' "excluded_deals_not_open": ["B"]}',
    )
    con.execute(
        "insert into forecast_targets (run_id, period, period_kind, period_start, period_end, "
        "target, p_hit) values (1, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', 150, 0.25),"
        " (3, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', 150, 0.75)"
    )
    run = latest_run(con)
    assert run is not None and run.run_id == 1
    blocks = scenario_blocks(con, run, read_context(con, "en", {}))
    table = next(b for b in blocks if isinstance(b, Table))
    cells = [[c.text for c in row] for row in table.rows]
    assert [row[0] for row in cells] == ["Base forecast", "better_win", "hire"]
    # Quarter P50, P10–P90, P(hit); year P50, P10–P90, P(hit) (no year target: blank).
    assert cells[0][1:] == ["—", "$100", "$80 – $120", "25%", "$400", "$320 – $480", "—"]
    assert cells[1][1:5] == ["win rate ×1.20", "$300", "$240 – $360", "75%"]  # run 3, not 2
    assert cells[2][1] == "open deals left out: 1; 2 reps added, ramping over 3 months"
    assert cells[2][4] == "—"
    assert any(isinstance(b, Note) and "[[targets]]" in b.text for b in blocks)
    italian = scenario_blocks(con, run, read_context(con, "it", {}))
    assert any(isinstance(b, Heading) and b.text == "Scenari ipotetici" for b in italian)
    con.close()


def test_no_scenario_run_no_table(tmp_path: Path):
    con = connect(tmp_path / "w.duckdb")
    con.execute(
        "create or replace table build_params as select timestamp '2026-10-31' as as_of, "
        "365 as lookback_days, 'USD' as currency, now()::timestamp as built_at"
    )
    insert_run(con, 1, None)
    run = latest_run(con)
    assert run is not None
    assert scenario_blocks(con, run, read_context(con, "en", {})) == []
    con.close()


# --- capacity by hand -------------------------------------------------------------------------

REPS = [
    # owner, created in the window, win rate by value
    ("Ann", 120_000.0, 0.25),
    ("Bob", 60_000.0, 0.50),
    ("Cy", 240_000.0, None),  # closed nothing in the window
    ("(none)", 50_000.0, 0.4),  # no rep
    ("Dee", 0.0, 0.3),  # created nothing: not counted
]


def capacity_fixture(tmp_path: Path, target: float | None) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "w.duckdb")
    con.execute(
        "create or replace table build_params as select timestamp '2026-10-31' as as_of, "
        "365 as lookback_days, 'USD' as currency, now()::timestamp as built_at"
    )
    insert_run(con, 1, None)
    # A window of 365.25 days: 12 months of 365.25 / 12 days.
    con.execute(
        "create table mart_rep_performance (owner varchar, as_of timestamp, window_start "
        "timestamp, created_pipeline_base double, win_rate_amount double)"
    )
    for owner, created, rate in REPS:
        con.execute(
            "insert into mart_rep_performance values (?, timestamp '2026-10-31 06:00:00', "
            "timestamp '2025-10-31 00:00:00', ?, ?)",
            [owner, created, rate],
        )
    con.execute(
        "create table mart_kpis_by_dimension as select 'all' as dimension, 0.3 as win_rate_amount"
    )
    if target is not None:
        con.execute(
            "insert into forecast_targets (run_id, period, period_kind, period_start, period_end, "
            "target) values (1, '2026-Q3', 'quarter', '2026-07-01', '2026-10-01', 1), "
            "(1, '2027', 'year', '2026-01-01', '2027-01-01', 1), "
            "(1, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', ?)",
            [target],
        )
    return con


def test_capacity_by_hand(tmp_path: Path):
    con = capacity_fixture(tmp_path, target=63_000.0)
    [row] = con.sql(sql_statement("forecast/capacity"), params={"run": 1}).pl().to_dicts()
    # Reps Ann, Bob, Cy: 420,000 created over 12 months = 11,666.67 per rep a month; x 0.3 =
    # 3,500 a month; the Q4 target (ends first after as_of, before the year) over 3 months:
    # 63,000 / (3,500 x 3) = 6 reps, 3 more than today.
    assert row["period"] == "2026-Q4" and row["period_months"] == 3 and row["reps"] == 3
    assert row["per_rep_monthly_created"] == pytest.approx(420_000 / 3 / 12)
    assert row["reps_needed"] == pytest.approx(6.0)
    assert row["rep_gap"] == pytest.approx(3.0)
    reps = con.sql(
        sql_statement("forecast/capacity_reps"), params={"target": 63_000.0, "period_months": 3}
    ).pl()
    # Share 63,000 / 3 / 3 = 7,000 a month each. Ann: 10,000 x 0.25 = 2,500 -> 2.8 (over);
    # Bob: 5,000 x 0.5 = 2,500 -> 2.8; Cy: no win rate -> no load.
    by_owner = {r["owner"]: r for r in reps.to_dicts()}
    assert set(by_owner) == {"Ann", "Bob", "Cy"}
    assert by_owner["Ann"]["monthly_capacity"] == pytest.approx(2_500.0)
    assert by_owner["Ann"]["load"] == pytest.approx(2.8) and by_owner["Ann"]["overloaded"]
    assert by_owner["Cy"]["load"] is None and by_owner["Cy"]["overloaded"] is None
    blocks = capacity_blocks(con, read_context(con, "en", {}))
    text = next(b.text for b in blocks if isinstance(b, Note))
    assert "needs 6.0 reps" in text and "3 more would be needed" in text
    con.close()


def test_capacity_without_target_says_so(tmp_path: Path):
    con = capacity_fixture(tmp_path, target=None)
    blocks = capacity_blocks(con, read_context(con, "en", {}))
    assert [b.tone for b in blocks if isinstance(b, Note)] == ["unavailable"]
    assert "[[targets]]" in blocks[1].text
    con.close()
