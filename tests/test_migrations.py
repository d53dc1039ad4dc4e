"""The warehouse schema: sql/schema/ creates what a warehouse lacks, sql/migrations/ bring one of
an earlier version up to date, each migration applied once and recorded in schema_migrations."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.backup import export_warehouse, import_warehouse, read_manifest
from pipeline_analytics.errors import PipelineError
from pipeline_analytics.warehouse import MIGRATIONS_DIR, connect, create_schema, migrations

# Columns migrations added after the first release, as (table, column): dropped, they make a
# warehouse of that release.
LATER_COLUMNS = [
    ("deals", "amount_company_currency"),
    ("deals", "lead_id"),
    ("forecast_deals", "amount_imputed"),
    ("build_params", "lead_expiry_days"),
    ("ingest_batches", "settings_json"),
    ("forecast_runs", "scenario"),
    ("deals", "forecast_category"),
    ("deal_snapshots", "forecast_category"),
]


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from duckdb_columns() where table_name = ? order by column_index",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def recorded(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select version, name from schema_migrations order by version").fetchall()


def write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


def test_a_warehouse_of_the_first_release_gains_the_later_columns(tmp_path: Path) -> None:
    new = connect(tmp_path / "new.duckdb")
    db = tmp_path / "old.duckdb"
    connect(db).close()
    old = duckdb.connect(str(db))
    old.execute("drop table schema_migrations")
    for table, column in LATER_COLUMNS:
        old.execute(f"alter table {table} drop column {column}")
    old.execute("insert into deals (source, deal_id, amount) values ('crm', 'D1', 100)")
    old.close()

    con = connect(db)

    for table in {t for t, _ in LATER_COLUMNS}:
        assert columns(con, table) == columns(new, table), table
    assert con.execute("select deal_id, amount, lead_id from deals").fetchall() == [
        ("D1", 100.0, None)
    ]
    every_file = [(m.version, m.name) for m in migrations()]
    assert len(every_file) == len(list(MIGRATIONS_DIR.glob("*.sql"))) > 0
    assert recorded(con) == every_file
    assert (14, "deals_lead_id") in every_file


def test_each_migration_applies_once(tmp_path: Path) -> None:
    # Neither migration could run twice: the column would exist, the rate would be doubled.
    folder = write_migrations(
        tmp_path / "migrations",
        {
            "001_fx_rates_note.sql": "alter table fx_rates add column note varchar;\n",
            "002_fx_rates_eur.sql": "insert into fx_rates values ('EUR', '2026-01-01', 1.1, 'x')",
        },
    )
    con = duckdb.connect()
    create_schema(con, folder)
    create_schema(con, folder)
    assert con.execute("select * from fx_rates").fetchall() == [("EUR", date(2026, 1, 1), 1.1, "x")]
    assert recorded(con) == [(1, "fx_rates_note"), (2, "fx_rates_eur")]

    write_migrations(
        folder,
        {"003_fx_rates_usd.sql": "insert into fx_rates values ('USD', '2026-01-01', 1, null);\n"},
    )
    create_schema(con, folder)
    assert con.execute("select count(*) from fx_rates").fetchall() == [(2,)]
    assert [v for v, _ in recorded(con)] == [1, 2, 3]


def test_a_failing_migration_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    con = duckdb.connect()
    create_schema(con, write_migrations(tmp_path / "none", {}))
    folder = write_migrations(
        tmp_path / "migrations",
        {
            "001_fx_rates_eur.sql": "insert into fx_rates values ('EUR', '2026-01-01', 1.1);\n",
            "002_broken.sql": "alter table no_such_table add column note varchar;\n",
        },
    )
    with pytest.raises(PipelineError, match=r"002_broken\.sql: migration 2 failed"):
        create_schema(con, folder)
    assert con.execute("select count(*) from fx_rates").fetchall() == [(0,)]
    assert recorded(con) == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"1_deals_note.sql": "select 1;"},
            r"1_deals_note\.sql: a migration's file name is NNN_name",
        ),
        (
            {"004_a.sql": "select 1;", "004_b.sql": "select 1;"},
            r"004_b\.sql: version 4 is also 004_a\.sql",
        ),
    ],
)
def test_a_migration_file_must_have_its_own_number(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(PipelineError, match=message):
        migrations(write_migrations(tmp_path / "migrations", files))


def test_a_backup_older_than_the_record_gets_the_migrations_on_import(tmp_path: Path) -> None:
    """A backup written before schema_migrations existed restores, and the restored warehouse
    records every migration (its data has had them applied); a newer backup's record is kept."""
    source = connect(tmp_path / "source.duckdb")
    source.execute("update schema_migrations set applied_at = timestamp '2026-01-02 03:04:05'")
    backup = tmp_path / "backup"
    export_warehouse(source, backup)

    restored = connect(tmp_path / "restored.duckdb")
    import_warehouse(restored, backup, read_manifest(backup), replace=False)
    assert restored.execute(
        "select distinct applied_at::varchar from schema_migrations"
    ).fetchall() == [("2026-01-02 03:04:05",)]

    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    del manifest["tables"]["schema_migrations"]
    (backup / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (backup / "schema_migrations.parquet").unlink()
    older = connect(tmp_path / "older.duckdb")
    import_warehouse(older, backup, read_manifest(backup), replace=False)
    assert recorded(older) == [(m.version, m.name) for m in migrations()]
