"""export-warehouse and import-warehouse: every table round-trips; the restored copy goes on."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.run_fixtures import copy_folder, new_folder, query, write_export

pytestmark = pytest.mark.slow

NIGHT_1 = datetime(2026, 5, 3, 23, 0)
NIGHT_2 = datetime(2026, 5, 10, 23, 0)


@pytest.fixture(scope="module")
def after_two_nights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full run on night 1, then night 2's files ingested: every kind of table holds rows."""
    folder = new_folder(tmp_path_factory.mktemp("backup") / "base")
    write_export(folder, NIGHT_1)
    assert run_cli(folder, "-q", "run") == 0
    write_export(folder, NIGHT_2)
    assert run_cli(folder, "-q", "ingest") == 0
    return folder


def tables(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()
        ]
    finally:
        con.close()


def differing_rows(original: Path, restored: Path, table: str) -> int:
    """Rows in one copy of `table` and not the other, counting duplicates."""
    con = duckdb.connect(str(restored), read_only=True)
    try:
        con.execute(f"attach '{original}' as original (read_only)")
        return con.execute(
            f"""
            select (select count(*) from (select * from original.{table}
                                          except all select * from {table}))
                 + (select count(*) from (select * from {table}
                                          except all select * from original.{table}))
            """
        ).fetchall()[0][0]
    finally:
        con.close()


def test_export_and_import_restore_every_table(after_two_nights: Path, tmp_path: Path) -> None:
    folder = copy_folder(after_two_nights, tmp_path / "w")
    # Built on night 2's data, so the model tables that import rebuilds must equal the original's.
    assert run_cli(folder, "-q", "build") == 0
    backup = tmp_path / "backup"
    assert run_cli(folder, "-q", "export-warehouse", str(backup)) == 0
    manifest = json.loads((backup / "manifest.json").read_text())
    original_tables = tables(folder / "w.duckdb")
    # The build's tables are not in the backup: import rebuilds them from the restored data.
    backed_up = [t for t in original_tables if not t.startswith(("int_", "mart_"))]
    assert "deals" in backed_up and "mart_kpis" in original_tables
    assert sorted(manifest["tables"]) == backed_up
    assert sorted(p.name for p in backup.glob("*.parquet")) == [f"{t}.parquet" for t in backed_up]
    assert "create" not in manifest["tables"]["deals"] and "views" not in manifest
    assert (
        manifest["tables"]["deal_snapshots"]["rows"]
        == query(folder, "select count(*) from deal_snapshots")[0][0]
    )

    restored = tmp_path / "restored" / "w.duckdb"
    assert run_cli(folder, "-q", "--db", str(restored), "import-warehouse", str(backup)) == 0
    assert tables(restored) == original_tables
    for table in original_tables:
        assert differing_rows(folder / "w.duckdb", restored, table) == 0, table

    # The restored warehouse carries on: ids continue where the original stopped.
    (folder / "w.duckdb").unlink()
    restored.rename(folder / "w.duckdb")
    write_export(folder, datetime(2026, 5, 17, 23, 0))
    assert run_cli(folder, "-q", "run") == 0
    assert query(folder, "select max(batch_id), count(*) from ingest_batches") == [(6, 6)]
    assert query(folder, "select run_id, command, files_loaded from runs order by 1") == [
        (1, "run", 2),
        (2, "ingest", 2),
        (3, "build", None),
        (4, "run", 2),
    ]


def test_import_refuses_to_overwrite_data_unless_told(
    after_two_nights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(after_two_nights, tmp_path / "w")
    backup = tmp_path / "backup"
    assert run_cli(folder, "-q", "export-warehouse", str(backup)) == 0
    assert run_cli(folder, "-q", "build") == 0  # a third command after the backup

    assert run_cli(folder, "import-warehouse", str(backup)) == 2
    assert "pass --replace" in capsys.readouterr().err
    assert query(folder, "select count(*) from runs") == [(3,)]
    assert run_cli(folder, "-q", "import-warehouse", str(backup), "--replace") == 0
    assert query(folder, "select count(*) from runs") == [(2,)]


def test_export_never_writes_into_an_existing_backup(
    after_two_nights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(after_two_nights, tmp_path / "w")
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "keep.txt").write_text("an earlier backup")
    assert run_cli(folder, "export-warehouse", str(backup)) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in backup.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".backup.partial-*"))

    assert run_cli(folder, "import-warehouse", str(tmp_path)) == 2  # no manifest.json there
    assert "needs a folder written by export-warehouse" in capsys.readouterr().err
