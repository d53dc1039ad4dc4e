"""The tool never reads its own files as exports: the warehouse, its write-ahead log, lock and temp
folder, the reports folder, the Spark build's staging folder, the config, and hidden files (an
editor's lock file)."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli, write

CONFIG = """
[[sources]]
name = "crm"
adapter = "generic"
path = "{path}"
[sources.columns]
deal_id = "id"
created_at = "created"
[sources.status]
won = ["Won"]
lost = ["Lost"]
[pipeline]
stages = ["Prospecting"]
currency = "USD"
[report]
output_dir = "reports"
"""
DEALS = """
id,stage,created
D1,Prospecting,2024-01-01
D2,Won,2024-01-02
"""


def loaded_files(folder: Path) -> list[str]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        rows = con.execute("select file_path from ingest_batches order by 1").fetchall()
    finally:
        con.close()
    return [str(Path(path).relative_to(folder)) for (path,) in rows]


def test_a_folder_holding_the_warehouse_loads_only_the_export(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "p.toml", CONFIG.format(path="."))
    write(tmp_path / "deals.csv", DEALS)
    write(tmp_path / ".~lock.deals.csv#", "an office suite's lock file\n")
    assert run_cli(tmp_path, "ingest") == 0
    with caplog.at_level(logging.INFO):
        assert run_cli(tmp_path, "ingest") == 0  # the second time the warehouse is in the folder
    assert loaded_files(tmp_path) == ["deals.csv"]
    note = next(r.getMessage() for r in caplog.records if "left out" in r.getMessage())
    for part in (
        "p.toml (the config)",
        "w.duckdb (the warehouse)",
        "w.duckdb.lock (the warehouse's lock file)",
        ".~lock.deals.csv# (a hidden file)",
    ):
        assert part in note


def test_a_glob_skips_the_temp_reports_and_spark_staging_folders(tmp_path: Path) -> None:
    write(tmp_path / "p.toml", CONFIG.format(path="*/*.csv"))
    (tmp_path / "exports").mkdir()
    write(tmp_path / "exports" / "deals.csv", DEALS)
    # w.tmp: the temp folder of w.duckdb; spark-staging: where `build --engine spark` writes
    for folder in ("reports", "w.tmp", "spark-staging"):
        (tmp_path / folder).mkdir()
        write(tmp_path / folder / "table.csv", "id,stage,created\nX,Won,2024-01-01\n")
    assert run_cli(tmp_path, "ingest") == 0
    assert loaded_files(tmp_path) == ["exports/deals.csv"]


def test_a_path_naming_the_warehouse_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "p.toml", CONFIG.format(path="w.duckdb"))
    duckdb.connect(str(tmp_path / "w.duckdb")).close()
    assert run_cli(tmp_path, "ingest") == 2
    assert "is the warehouse, not an export" in capsys.readouterr().err


def test_own_files_name_the_write_ahead_log(tmp_path: Path) -> None:
    from pipeline_analytics.config import load_config
    from pipeline_analytics.ingest import OwnFiles

    write(tmp_path / "p.toml", CONFIG.format(path="."))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        own = OwnFiles.of(con, load_config(tmp_path / "p.toml"), tmp_path / "w.tmp")
    finally:
        con.close()
    assert own.what(tmp_path / "w.duckdb.wal") == "the warehouse's write-ahead log"
    assert own.what(tmp_path / "w.tmp" / "spill.bin") == "in the warehouse's temp folder"
    assert own.what(tmp_path / "deals.csv") is None


def test_other_configs_and_warehouses_beside_the_export_are_not_exports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An older config written by `init` and a copy of a warehouse in the export folder.
    write(tmp_path / "p.toml", CONFIG.format(path="."))
    write(tmp_path / "deals.csv", DEALS)
    write(tmp_path / "pipeline.toml", "[[sources]]\nname = 'old'\n")
    duckdb.connect(str(tmp_path / "copy.duckdb")).close()
    with caplog.at_level(logging.INFO):
        assert run_cli(tmp_path, "ingest") == 0
    assert loaded_files(tmp_path) == ["deals.csv"]
    note = next(r.getMessage() for r in caplog.records if "left out" in r.getMessage())
    assert "pipeline.toml (a config file)" in note
    assert "copy.duckdb (a DuckDB warehouse)" in note
