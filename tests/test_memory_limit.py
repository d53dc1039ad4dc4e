"""A small DuckDB memory limit makes the job spill to disk, not fail, and changes no number."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.config import WarehouseSettings
from pipeline_analytics.warehouse import connect
from tests.conftest import SAMPLE_DIR

KPIS = (
    "select open_deals, open_pipeline_base, won_deals, win_rate, median_cycle_days_won "
    "from mart_kpis"
)


def build_sample(folder: Path, warehouse_settings: str) -> list[tuple]:
    config = (SAMPLE_DIR / "pipeline.toml").read_text(encoding="utf-8")
    config = (
        config.replace('path = "', f'path = "{SAMPLE_DIR}/')
        .replace('history = "', f'history = "{SAMPLE_DIR}/')
        .replace('activities = "', f'activities = "{SAMPLE_DIR}/')
    )
    (folder / "p.toml").write_text(config + warehouse_settings, encoding="utf-8")
    args = ["--config", str(folder / "p.toml"), "--db", str(folder / "w.duckdb")]
    assert main([*args, "ingest"]) == 0
    assert main([*args, "build"]) == 0
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(KPIS).fetchall()
    finally:
        con.close()


def duckdb_shows_memory_limit(value: str) -> str:
    con = duckdb.connect()
    try:
        con.execute("set memory_limit = $value", {"value": value})
        return con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.slow
def test_low_memory_limit_spills_and_gives_the_same_marts(tmp_path: Path) -> None:
    (tmp_path / "low").mkdir()
    (tmp_path / "default").mkdir()
    low = build_sample(tmp_path / "low", '\n[warehouse]\nmemory_limit = "100MB"\nthreads = 1\n')
    default = build_sample(tmp_path / "default", "")
    assert low == default
    assert low[0][0] > 0


def test_configured_limit_and_temp_directory_are_applied(tmp_path: Path) -> None:
    settings = WarehouseSettings(
        path=None, memory_limit="100MB", temp_directory=tmp_path / "spill", threads=1
    )
    con = connect(tmp_path / "w.duckdb", settings)
    try:
        limit, temp, threads = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory'), "
            "current_setting('threads')"
        ).fetchall()[0]
    finally:
        con.close()
    # DuckDB shows a limit in words of its own ("95.3 MiB"): compare with what it shows for ours.
    assert limit == duckdb_shows_memory_limit("100MB") != duckdb_shows_memory_limit("200MB")
    assert temp == str(tmp_path / "spill")
    assert threads == 1
