"""A changed config reloads: a source whose file-reading settings changed is loaded again, whole.

The fixture maps the deal key to the account column by mistake: three of five deals share an
account with another, so three rows are rejected as duplicate ids. Fixing the mapping and ingesting
again must leave exactly what a fresh warehouse built with the right mapping holds.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.ingest import batches
from tests.conftest import write

CONFIG = """
[[sources]]
name = "crm"
adapter = "generic"
path = "deals.csv"
history = "history.csv"
activities = "activities.csv"
[sources.columns]
deal_id = "{key}"
created_at = "created"
closed_at = "closed"
amount = "value"
owner = "rep"
[sources.status]
won = ["Won"]
lost = ["Lost"]
[pipeline]
stages = ["Prospecting", "Qualification", "Proposal"]
currency = "USD"
"""
# D5's close date lies in 2094: the deal loads without it and flagged_values keeps the value.
DEALS = """
id,account,stage,created,closed,value,rep
D1,Acme,Won,2024-01-01,2024-03-01,1000,Ann
D2,Acme,Lost,2024-01-05,2024-02-01,500,Bob
D3,Acme,Proposal,2024-02-01,,2000,Ann
D4,Beta,Qualification,2024-02-10,,300,Bob
D5,Beta,Won,2024-02-15,2094-01-01,700,Ann
"""
HISTORY = """
deal_id,stage,changed_at
D1,Prospecting,2024-01-01
D1,Qualification,2024-01-10
D1,Won,2024-03-01
D3,Prospecting,2024-02-01
D3,Proposal,2024-03-05
"""
ACTIVITIES = """
deal_id,activity_type,occurred_at,owner
D1,call,2024-01-02,Ann
D3,email,2024-02-03,Ann
"""
# Columns that differ between two loads of the same files: when, and under which batch id.
LOAD_BOOKKEEPING = {"batch_id", "started_at", "finished_at"}


def make_export(folder: Path, key: str) -> Path:
    folder.mkdir(exist_ok=True)
    write(folder / "p.toml", CONFIG.format(key=key))
    write(folder / "deals.csv", DEALS)
    write(folder / "history.csv", HISTORY)
    write(folder / "activities.csv", ACTIVITIES)
    return folder


def cli(folder: Path, *args: str, db: str = "w.duckdb") -> int:
    from pipeline_analytics.cli import main

    return main(["--config", str(folder / "p.toml"), "--db", str(folder / db), *args])


def rows_of(db: Path, table: str) -> list[tuple]:
    """The table's rows, sorted, without the columns that only say when and as which batch."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = [
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns where table_name = ? "
                "order by ordinal_position",
                [table],
            ).fetchall()
            if c not in LOAD_BOOKKEEPING
        ]
        return con.execute(f"select {', '.join(columns)} from {table} order by all").fetchall()
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def source_tables() -> list[str]:
    """Every table a source's files fill, and the stage list derived from its deals."""
    return [table for table, _ in batches.SOURCE_ROWS] + ["stages"]


def mart_tables(db: Path) -> list[str]:
    return [
        name
        for (name,) in query(
            db, "select table_name from duckdb_tables() where table_name like 'mart_%' order by 1"
        )
    ]


@pytest.fixture
def wrong_key(tmp_path: Path) -> Path:
    """The export loaded with deal_id mapped to the account column."""
    folder = make_export(tmp_path / "export", key="account")
    assert cli(folder, "ingest") == 0
    db = folder / "w.duckdb"
    assert query(
        db,
        "select rows_read, rows_loaded, rows_rejected from ingest_batches where object = 'deals'",
    ) == [(5, 2, 3)]
    assert query(db, "select deal_id from deals order by 1") == [("Acme",), ("Beta",)]
    return folder


@pytest.mark.slow
def test_fixing_the_key_mapping_leaves_no_row_of_the_old_one(
    wrong_key: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = wrong_key / "w.duckdb"
    old_batches = query(db, "select batch_id from ingest_batches order by 1")
    write(wrong_key / "p.toml", CONFIG.format(key="id"))
    with caplog.at_level(logging.INFO):
        assert cli(wrong_key, "ingest") == 0
    assert (
        "settings for source 'crm' changed since batch 3 (columns.deal_id): "
        "reloading its 3 file(s)" in caplog.text
    )
    # A fresh warehouse of the same files with the right mapping, in the same folder (same paths).
    assert cli(wrong_key, "ingest", db="fresh.duckdb") == 0
    fresh = wrong_key / "fresh.duckdb"
    for table in source_tables():
        assert rows_of(db, table) == rows_of(fresh, table), table
    assert query(db, "select deal_id from deals order by 1") == [(f"D{n}",) for n in range(1, 6)]
    kept = query(
        db,
        "select count(*) from ingest_batches where batch_id in "
        f"({', '.join(str(b) for (b,) in old_batches)})",
    )
    assert kept == [(0,)]
    for table in ("rejected_rows", "flagged_values"):
        orphans = query(
            db, f"select count(*) from {table} anti join ingest_batches using (batch_id)"
        )
        assert orphans == [(0,)], table
    assert query(db, "select count(*) from flagged_values") == [(1,)]  # D5's 2094, read again

    assert cli(wrong_key, "build") == 0
    assert cli(wrong_key, "build", db="fresh.duckdb") == 0
    marts = mart_tables(db)
    assert "mart_kpis" in marts and marts == mart_tables(fresh)
    for mart in marts:
        assert rows_of(db, mart) == rows_of(fresh, mart), mart


@pytest.mark.slow
def test_unchanged_settings_load_nothing_again(wrong_key: Path) -> None:
    db = wrong_key / "w.duckdb"
    before = query(db, "select batch_id from ingest_batches order by 1")
    assert cli(wrong_key, "ingest") == 0
    assert query(db, "select batch_id from ingest_batches order by 1") == before


@pytest.mark.slow
def test_a_failed_reload_changes_nothing(wrong_key: Path) -> None:
    db = wrong_key / "w.duckdb"
    before = {table: rows_of(db, table) for table in source_tables()}
    # The key fixed, but the history mapping now names a column the file lacks: that file fails
    # after the deals file of the reload was written, inside the one transaction.
    broken = CONFIG.format(key="id") + '[sources.history_columns]\nchanged_at = "when"\n'
    (wrong_key / "p.toml").write_text(broken, encoding="utf-8")
    assert cli(wrong_key, "ingest") == 2
    assert {table: rows_of(db, table) for table in source_tables()} == before
    # Still differing settings: the next ingest with the fix tries again, and succeeds.
    write(wrong_key / "p.toml", CONFIG.format(key="id"))
    assert cli(wrong_key, "ingest") == 0
    assert query(db, "select count(*) from deals") == [(5,)]


@pytest.mark.slow
def test_reload_option_reloads_unchanged_settings(wrong_key: Path) -> None:
    db = wrong_key / "w.duckdb"
    before = {table: rows_of(db, table) for table in source_tables()}
    old_ids = query(db, "select batch_id from ingest_batches order by 1")
    assert cli(wrong_key, "ingest", "--reload", "--source", "crm") == 0
    assert query(db, "select count(*) from ingest_batches") == [(3,)]
    assert set(query(db, "select batch_id from ingest_batches")).isdisjoint(old_ids)
    assert {table: rows_of(db, table) for table in source_tables()} == before


@pytest.mark.slow
def test_reload_of_an_unknown_source_is_a_config_error(
    wrong_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(wrong_key, "ingest", "--reload", "--source", "nope") == 2
    assert "--source nope" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli(wrong_key, "ingest", "--source", "crm")
    assert stopped.value.code == 2


def test_run_accepts_reload() -> None:
    from pipeline_analytics.cli import build_parser

    args = build_parser().parse_args(["run", "--reload", "--source", "crm"])
    assert (args.reload, args.source) == (True, "crm")


@pytest.mark.slow
def test_batches_without_recorded_settings_are_not_reloaded(
    wrong_key: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An older warehouse: settings unknown, said once, taken as the current ones."""
    db = wrong_key / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("update ingest_batches set settings_fingerprint = null, settings_json = null")
    con.close()
    before = query(db, "select batch_id from ingest_batches order by 1")
    write(wrong_key / "p.toml", CONFIG.format(key="id"))
    with caplog.at_level(logging.INFO):
        assert cli(wrong_key, "ingest") == 0
    assert query(db, "select batch_id from ingest_batches order by 1") == before
    assert caplog.text.count("loaded before the settings") == 1
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert cli(wrong_key, "ingest") == 0
    assert "loaded before the settings" not in caplog.text
    assert query(db, "select count(distinct settings_fingerprint) from ingest_batches") == [(1,)]


def test_settings_fingerprint_follows_the_configured_values(tmp_path: Path) -> None:
    from pipeline_analytics.config import load_config

    first = make_export(tmp_path / "a", key="id")
    second = make_export(tmp_path / "b", key="id")
    shutil.copy(first / "p.toml", second / "p.toml")
    same = [batches.read_settings(load_config(f / "p.toml").sources[0]) for f in (first, second)]
    assert same[0] == same[1]  # paths are not settings: a moved export is the same export
    write(second / "p.toml", CONFIG.format(key="account"))
    other = batches.read_settings(load_config(second / "p.toml").sources[0])
    assert batches.settings_fingerprint(other) != batches.settings_fingerprint(same[0])
