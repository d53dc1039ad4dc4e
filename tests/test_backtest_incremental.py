"""The incremental backtest: a stored origin is reused while its settings, code and past data are
the same; a later build forecasts only the new month-ends and stores what a full backtest would."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.forecast import BacktestSettings, run_backtest
from pipeline_analytics.forecast import backtest as backtest_module
from tests.conftest import SAMPLE_DIR

pytestmark = pytest.mark.slow

CONFIG = SAMPLE_DIR / "pipeline.toml"
SMALL = ["--origins", "4", "--simulations", "200"]
SETTINGS = BacktestSettings(origins=4, simulations=200, seed=7)


def cli(db: Path, *args: str) -> int:
    return main(["--config", str(CONFIG), "--db", str(db), "-q", *args])


def scored(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select * exclude (created_at) from forecast_backtest order by all"
        ).fetchall()
    finally:
        con.close()


def stored_origins(db: Path) -> dict[datetime, datetime]:
    """Each stored origin and when it was forecast."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute("select origin, created_at from forecast_backtest_origins")
        return dict(found.fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def september(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample built as of 2026-09-15 and backtested there (origins May to August)."""
    db = tmp_path_factory.mktemp("incremental") / "w.duckdb"
    assert cli(db, "ingest") == 0
    assert cli(db, "build", "--as-of", "2026-09-15") == 0
    assert cli(db, "backtest", *SMALL) == 0
    return db


@pytest.fixture
def october(september: Path, tmp_path: Path) -> Path:
    """The same warehouse built again as of the sample's end, 2026-10-31."""
    db = tmp_path / "w.duckdb"
    shutil.copy(september, db)
    assert cli(db, "build") == 0
    return db


def test_a_later_build_forecasts_only_the_new_month_end(september: Path, october: Path) -> None:
    before = stored_origins(september)
    assert sorted(before) == [datetime(2026, m, 1) for m in (5, 6, 7, 8)]
    assert cli(october, "backtest", *SMALL) == 0
    after = stored_origins(october)
    # May has left the four latest month-ends; September is new; the rest are kept as stored.
    assert sorted(after) == [datetime(2026, m, 1) for m in (6, 7, 8, 9)]
    assert all(after[o] == before[o] for o in (datetime(2026, m, 1) for m in (6, 7, 8)))
    assert after[datetime(2026, 9, 1)] > before[datetime(2026, 8, 1)]


def test_the_incremental_backtest_stores_what_a_full_one_would(october: Path) -> None:
    assert cli(october, "backtest", *SMALL) == 0
    incremental = scored(october)
    assert cli(october, "backtest", *SMALL, "--recompute") == 0
    assert scored(october) == incremental
    # August's 2- and 3-month windows had not ended at 2026-09-15; they are scored now.
    august = {(h, m) for o, h, m, *_ in incremental if o == datetime(2026, 8, 1)}
    assert {h for h, _ in august} == {1, 2}  # Aug+Sep ended by 2026-10-31; Aug-Oct did not


def test_stored_forecasts_are_rescored_against_the_actuals_known_now(
    september: Path, october: Path
) -> None:
    at_september = {(o, h, m): actual for o, h, m, actual, *_ in scored(september)}
    assert cli(october, "backtest", *SMALL) == 0
    at_october = {(o, h, m): actual for o, h, m, actual, *_ in scored(october)}
    july, august = datetime(2026, 7, 1), datetime(2026, 8, 1)
    # Windows ended by 2026-09-15 keep their actuals; the ones ended since gain theirs.
    assert at_october[(july, 1, "engine")] == at_september[(july, 1, "engine")]
    assert (july, 3, "engine") not in at_september
    assert (july, 3, "engine") in at_october and (august, 2, "engine") in at_october


def test_restating_the_past_forecasts_again_only_the_month_ends_after_it(october: Path) -> None:
    con = duckdb.connect(str(october))
    try:
        run_backtest(con, SETTINGS)
        # A deal won in July 2026 is restated: its amount doubles.
        con.execute(
            "update deals set amount_base = amount_base * 2 where deal_id = (select min(deal_id)"
            " from deals where status = 'won' and closed_at between '2026-07-05' and"
            " '2026-07-25')"
        )
        outcome = run_backtest(con, SETTINGS)
    finally:
        con.close()
    assert outcome.kept == [datetime(2026, 6, 1), datetime(2026, 7, 1)]
    assert outcome.forecast == [datetime(2026, 8, 1), datetime(2026, 9, 1)]


def test_other_settings_or_other_code_forecast_every_origin_again(
    october: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = duckdb.connect(str(october))
    try:
        run_backtest(con, SETTINGS)
        assert run_backtest(con, SETTINGS).forecast == []
        # The number of origins chooses which are scored, not how each is forecast.
        assert run_backtest(con, dataclasses.replace(SETTINGS, origins=3)).forecast == []
        assert len(run_backtest(con, dataclasses.replace(SETTINGS, simulations=300)).forecast) == 4
        # A change in any file of the forecast's code is a new key.
        code = tmp_path / "engine_part.sql"
        code.write_text("select 1")
        monkeypatch.setattr(backtest_module, "sql_files_in", lambda folder: [code])
        first = backtest_module.made_with(SETTINGS)
        code.write_text("select 2")
        assert backtest_module.made_with(SETTINGS) != first
    finally:
        con.close()
