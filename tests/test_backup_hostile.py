"""import-warehouse against hostile and damaged backups (issue 14, item 1).

A backup is data, never code: the schema comes from our own definitions, only `<table>.parquet`
inside the backup folder is read, columns are matched by name and cast to our types, and anything
else is refused with one line (exit 2) naming the manifest key or file. Each test says whether its
case is refused or tolerated, and why.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline_analytics.cli import main
from tests.conftest import run_cli
from tests.run_fixtures import new_folder, query, write_export

pytestmark = pytest.mark.slow

NIGHT_1 = datetime(2026, 5, 3, 23, 0)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with one night ingested and built, and its backup in `backup/`."""
    folder = new_folder(tmp_path_factory.mktemp("hostile") / "base")
    write_export(folder, NIGHT_1)
    assert run_cli(folder, "-q", "ingest") == 0
    assert run_cli(folder, "-q", "build") == 0
    assert run_cli(folder, "-q", "export-warehouse", str(folder / "backup")) == 0
    return folder


@pytest.fixture
def backup(original: Path, tmp_path: Path) -> Path:
    """A copy of the backup this test may tamper with (inside tmp_path/backups/)."""
    return Path(shutil.copytree(original / "backup", tmp_path / "backups" / "b"))


def restore(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    """Import `backup` into a new warehouse next to it: the exit code and the stderr lines."""
    capsys.readouterr()
    db = backup.parent / "restored.duckdb"
    code = main(
        [
            "-q",
            "--config",
            str(original / "p.toml"),
            "--db",
            str(db),
            "import-warehouse",
            str(backup),
        ]
    )
    return code, capsys.readouterr().err.splitlines()


def refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str], *expected: str
) -> str:
    """Import must fail with exit 2 and one error line holding every `expected` part."""
    code, err = restore(original, backup, capsys)
    assert code == 2, err
    assert len(err) == 1, err
    for part in expected:
        assert part in err[0], err[0]
    assert not (backup.parent / "restored.duckdb").exists() or not restored_tables(backup)
    return err[0]


def restored(backup: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(backup.parent / "restored.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def restored_tables(backup: Path) -> list[str]:
    """Tables of the restored warehouse that hold rows (a refused import leaves none)."""
    con = duckdb.connect(str(backup.parent / "restored.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return [n for n in names if con.execute(f'select count(*) from "{n}"').fetchall()[0][0]]
    finally:
        con.close()


def manifest(backup: Path) -> dict[str, Any]:
    return json.loads((backup / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(backup: Path, content: object) -> None:
    (backup / "manifest.json").write_text(json.dumps(content, indent=2), encoding="utf-8")


def rewrite_parquet(backup: Path, table: str, select: str) -> None:
    """Replace `<table>.parquet` by `select` over its current rows (the relation `t`)."""
    path = backup / f"{table}.parquet"
    scratch = backup.parent / f"{table}.rewritten.parquet"
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (with t as (select * from read_parquet('{path}')) {select}) "
            f"to '{scratch}' (format parquet)"
        )
    finally:
        con.close()
    scratch.replace(path)


def format_1_manifest(original: Path) -> dict[str, Any]:
    """The manifest as the first backup format wrote it: CREATE statements and views included."""
    con = duckdb.connect(str(original / "w.duckdb"), read_only=True)
    try:
        own = "database_name = current_database() and schema_name = 'main' and not temporary"
        tables = {
            name: {
                "file": f"{name}.parquet",
                "rows": con.execute(f'select count(*) from "{name}"').fetchall()[0][0],
                "create": sql,
            }
            for name, sql in con.execute(
                f"select table_name, sql from duckdb_tables() where {own}"
            ).fetchall()
        }
        views = dict(
            con.execute(
                f"select view_name, sql from duckdb_views() where {own} and not internal"
            ).fetchall()
        )
        sequences = {
            name: {"next": start if last is None else last + 1, "increment": 1}
            for name, start, last in con.execute(
                f"select sequence_name, start_value, last_value from duckdb_sequences() where {own}"
            ).fetchall()
        }
    finally:
        con.close()
    return {
        "format": 1,
        "exported_at": "2026-12-01T00:00:00+00:00",
        "pipeline_analytics_version": "0.9.0",
        "tables": tables,
        "views": views,
        "sequences": sequences,
    }


def deal_count(original: Path) -> int:
    return query(original, "select count(*) from deals")[0][0]


# --- SQL in the manifest is never run -----------------------------------------------------------


def test_a_create_statement_from_an_older_backup_is_never_executed(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tolerated, harmlessly: an older (format 1) backup carries CREATE statements; import ignores
    them and builds every table from our own definitions, so the prepended COPY never runs."""
    owned = backup.parent / "owned.txt"
    old = format_1_manifest(original)
    old["tables"]["deals"]["create"] = (
        f"COPY (SELECT 'owned') TO '{owned}'; " + old["tables"]["deals"]["create"]
    )
    write_manifest(backup, old)
    code, err = restore(original, backup, capsys)
    assert not owned.exists()
    assert code == 0, err
    assert restored(backup, "select count(*) from deals") == [(deal_count(original),)]
    # Format 1 also listed the build's tables: skipped, and rebuilt from the restored data.
    assert "mart_kpis" in old["tables"]
    assert restored(backup, "select count(*) from mart_kpis") == query(
        original, "select count(*) from mart_kpis"
    )


def test_a_view_from_the_backup_is_never_executed(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tolerated, harmlessly: views come from our schema only; a view entry of an older backup
    that copies a file out (here a stand-in for /etc/passwd) is ignored."""
    secret = backup.parent / "secret.txt"
    secret.write_text("root:x:0:0\n")
    stolen = backup.parent / "stolen.csv"
    old = format_1_manifest(original)
    old["views"]["forecast_accuracy"] = (
        f"COPY (SELECT * FROM read_csv('{secret}', header = false)) TO '{stolen}'; "
        + old["views"]["forecast_accuracy"]
    )
    write_manifest(backup, old)
    code, err = restore(original, backup, capsys)
    assert not stolen.exists()
    assert code == 0, err
    assert restored(backup, "select count(*) from forecast_accuracy") == [(0,)]


def test_a_view_the_schema_does_not_have_is_refused_in_a_current_backup(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: the current format has no views at all, so a `views` key is not ours."""
    content = manifest(backup)
    content["views"] = {"forecast_accuracy": "select 1"}
    write_manifest(backup, content)
    refused(original, backup, capsys, "manifest.json", "views")


def test_a_current_backup_with_create_statements_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: the current format holds no SQL; a `create` key means someone added it."""
    content = manifest(backup)
    content["tables"]["deals"]["create"] = "create table deals (x integer)"
    write_manifest(backup, content)
    refused(original, backup, capsys, "tables.deals", "create")


# --- Only our files, inside the folder ----------------------------------------------------------


def test_a_file_outside_the_backup_folder_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: a table's file is `<table>.parquet` in the backup folder, nothing else."""
    shutil.copy(backup / "deals.parquet", backup.parent / "outside.parquet")
    content = manifest(backup)
    content["tables"]["deals"]["file"] = "../outside.parquet"
    write_manifest(backup, content)
    refused(original, backup, capsys, "tables.deals.file", "deals.parquet")


def test_a_symlink_pointing_outside_the_folder_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: a link would read a file the backup does not hold (it could be anything)."""
    outside = backup.parent / "outside.parquet"
    (backup / "deals.parquet").replace(outside)
    (backup / "deals.parquet").symlink_to(outside)
    refused(original, backup, capsys, "deals.parquet", "link")


def test_a_manifest_that_is_a_link_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: the manifest, like every file of a backup, is a plain file in the folder."""
    elsewhere = backup.parent / "elsewhere.json"
    (backup / "manifest.json").replace(elsewhere)
    (backup / "manifest.json").symlink_to(elsewhere)
    refused(original, backup, capsys, "manifest.json", "link")


def test_a_key_given_twice_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: JSON readers differ on which of two `rows` counts; we do not guess."""
    text = (backup / "manifest.json").read_text(encoding="utf-8")
    text = text.replace('"format": 2,', '"format": 2, "format": 2,', 1)
    (backup / "manifest.json").write_text(text, encoding="utf-8")
    refused(original, backup, capsys, "manifest.json", "format", "twice")


def test_a_table_our_schema_does_not_have_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: its data would have no place in the warehouse; import does not create tables."""
    shutil.copy(backup / "stages.parquet", backup / "evil.parquet")
    content = manifest(backup)
    content["tables"]["evil"] = {
        "file": "evil.parquet",
        "rows": content["tables"]["stages"]["rows"],
    }
    write_manifest(backup, content)
    refused(original, backup, capsys, "tables.evil")


def test_a_model_table_in_a_current_backup_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: int_*/mart_* tables are rebuilt from the restored data, never read from a
    backup; the current export does not write them."""
    shutil.copy(backup / "stages.parquet", backup / "mart_kpis.parquet")
    content = manifest(backup)
    content["tables"]["mart_kpis"] = {
        "file": "mart_kpis.parquet",
        "rows": content["tables"]["stages"]["rows"],
    }
    write_manifest(backup, content)
    refused(original, backup, capsys, "tables.mart_kpis")


def test_a_manifest_without_deals_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: a backup missing a table would restore a warehouse that silently lost it."""
    content = manifest(backup)
    del content["tables"]["deals"]
    write_manifest(backup, content)
    refused(original, backup, capsys, "tables", "deals")


# --- Columns by name and type ---------------------------------------------------------------------


def test_reordered_columns_are_matched_by_name(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tolerated: columns are matched by name, so their order in the file does not matter."""
    rewrite_parquet(backup, "stages", "select stage, pipeline, * exclude (pipeline, stage) from t")
    code, err = restore(original, backup, capsys)
    assert code == 0, err
    expected = query(original, "select pipeline, stage from stages order by all")
    assert restored(backup, "select pipeline, stage from stages order by all") == expected
    assert expected[0][0] != expected[0][1]  # a swap would show


def test_a_column_of_the_wrong_kind_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: text where a timestamp belongs is not our data (cast, it could change meaning)."""
    rewrite_parquet(backup, "deals", "select * replace ('yesterday' as created_at) from t")
    refused(original, backup, capsys, "deals.parquet", "created_at", "VARCHAR", "TIMESTAMP")


@pytest.mark.parametrize(
    ("table", "column", "written_as", "ours"),
    [
        ("stages", "stage_order", "bigint", "INTEGER"),
        ("deals", "created_at", "timestamp_ns", "TIMESTAMP"),
        ("deals", "created_at", "timestamptz", "TIMESTAMP"),
        ("deals", "batch_id", "ubigint", "INTEGER"),
    ],
)
def test_a_type_of_the_same_kind_is_cast_to_ours(
    original: Path,
    backup: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    column: str,
    written_as: str,
    ours: str,
) -> None:
    """Tolerated: another tool may write BIGINT for our INTEGER or nanosecond timestamps; they
    cast to our type with every value unchanged."""
    rewrite_parquet(backup, table, f"select * replace ({column}::{written_as} as {column}) from t")
    code, err = restore(original, backup, capsys)
    assert code == 0, err
    values = f"select {column} from {table} order by all"
    assert restored(backup, f"select distinct typeof({column}) from {table}") == [(ours,)]
    assert restored(backup, values) == query(original, values)


def test_a_value_that_does_not_fit_our_type_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: 2^40 does not fit INTEGER; a failed cast names the file and the column."""
    rewrite_parquet(
        backup,
        "stages",
        "select * replace ((stage_order + 1099511627776)::bigint as stage_order) from t",
    )
    refused(original, backup, capsys, "stages.parquet", "stage_order")


def test_an_extra_column_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: the file was not written for this schema (a newer version, or another tool), and
    importing it would silently drop that column's data."""
    rewrite_parquet(backup, "stages", "select *, 'x' as colour from t")
    refused(original, backup, capsys, "stages.parquet", "colour")


def test_a_missing_column_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: a warehouse without deal ids is not a restore of anything."""
    rewrite_parquet(backup, "deals", "select * exclude (deal_id) from t")
    refused(original, backup, capsys, "deals.parquet", "deal_id")


def test_an_older_backup_lacking_later_additions_restores_them_empty(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tolerated: a format 1 backup predates run_steps, flagged_values,
    forecast_deals.amount_imputed and the tables and columns of targets, scenarios, run changes
    and the digest; they restore empty/NULL, as in a warehouse of that age upgraded in place."""
    old = format_1_manifest(original)
    later_tables = (
        "run_steps",
        "flagged_values",
        "forecast_targets",
        "forecast_deal_periods",
        "alerts",
        "notifications",
    )
    for table in later_tables:
        del old["tables"][table]
        (backup / f"{table}.parquet").unlink()
    rewrite_parquet(backup, "forecast_deals", "select * exclude (amount_imputed) from t")
    rewrite_parquet(backup, "forecast_runs", "select * exclude (scenario) from t")
    write_manifest(backup, old)
    code, err = restore(original, backup, capsys)
    assert code == 0, err
    for table in later_tables:
        assert restored(backup, f"select count(*) from {table}") == [(0,)], table
    assert restored(backup, "select count(*) from forecast_runs where scenario is not null") == [
        (0,)
    ]
    assert restored(backup, "select count(*) from deals") == [(deal_count(original),)]


# --- The manifest itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "object"),
        ('"backup"', "object"),
    ],
)
def test_a_manifest_that_is_not_a_json_object_is_refused(
    original: Path,
    backup: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    expected: str,
) -> None:
    """Refused: without the manifest there is no telling what the folder holds."""
    (backup / "manifest.json").write_text(text, encoding="utf-8")
    refused(original, backup, capsys, "manifest.json", expected)


def test_a_manifest_that_is_not_utf8_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (backup / "manifest.json").write_bytes(b'{"format": "\xff"}')
    refused(original, backup, capsys, "manifest.json")


@pytest.mark.parametrize("version", [3, 0, "2", None, True])
def test_a_format_this_version_does_not_read_is_refused(
    original: Path,
    backup: Path,
    capsys: pytest.CaptureFixture[str],
    version: object,
) -> None:
    """Refused: a newer format may mean something this version cannot know."""
    content = manifest(backup)
    content["format"] = version
    write_manifest(backup, content)
    refused(original, backup, capsys, "manifest.json", "format")


def test_the_program_version_that_wrote_it_does_not_matter(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tolerated: `format` says what the files mean; the writer's version is information."""
    content = manifest(backup)
    content["pipeline_analytics_version"] = "0.0.1"
    write_manifest(backup, content)
    code, err = restore(original, backup, capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["tables"]["deals"].pop("rows"), "tables.deals.rows"),
        (lambda m: m.pop("tables"), "tables"),
        (lambda m: m.pop("sequences"), "sequences"),
        (lambda m: m.update(tables=list(m["tables"])), "tables"),
        (lambda m: m["tables"].update(deals=["deals.parquet"]), "tables.deals"),
        (lambda m: m.update(sequences=[1, 2]), "sequences"),
        (lambda m: m["tables"]["deals"].update(rows="12"), "tables.deals.rows"),
        (lambda m: m["tables"]["deals"].update(rows=-1), "tables.deals.rows"),
        (lambda m: m["tables"]["deals"].update(rows=True), "tables.deals.rows"),
        (lambda m: m["sequences"]["batch_id_seq"].update(next="2"), "sequences.batch_id_seq"),
        (lambda m: m["sequences"]["batch_id_seq"].update(next=2**70), "sequences.batch_id_seq"),
        (lambda m: m["sequences"].pop("run_id_seq"), "sequences"),
        (lambda m: m["sequences"].update(evil_seq={"next": 1}), "sequences.evil_seq"),
        (lambda m: m.update(colour="blue"), "colour"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_refused(
    original: Path,
    backup: Path,
    capsys: pytest.CaptureFixture[str],
    change: Any,
    expected: str,
) -> None:
    """Refused, naming the key: each of these ended in a KeyError/AttributeError traceback, or
    imported something other than the backup."""
    content = manifest(backup)
    change(content)
    write_manifest(backup, content)
    refused(original, backup, capsys, "manifest.json", expected)


def test_a_sequence_behind_the_ids_in_use_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused: the next ingest would reuse a batch id already in the warehouse."""
    content = manifest(backup)
    content["sequences"]["batch_id_seq"]["next"] = 1
    write_manifest(backup, content)
    refused(original, backup, capsys, "sequences.batch_id_seq", "ingest_batches")


# --- Damaged files ------------------------------------------------------------------------------


def test_a_corrupt_parquet_file_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (backup / "deals.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    refused(original, backup, capsys, "deals.parquet", "Parquet")


def test_a_missing_parquet_file_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (backup / "stages.parquet").unlink()
    refused(original, backup, capsys, "stages.parquet")


def test_a_row_count_other_than_the_manifests_is_refused(
    original: Path, backup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite_parquet(backup, "deals", "select * from t limit 3")
    refused(original, backup, capsys, "deals.parquet", "3 rows")


# --- Export writes our tables and columns only --------------------------------------------------


def without_backup(original: Path, target: Path) -> Path:
    """A copy of the original's folder (warehouse and config), its backup left out."""
    shutil.copytree(original, target, ignore=shutil.ignore_patterns("backup"))
    return target


def test_export_leaves_out_tables_that_are_not_ours(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An analyst's own table in the warehouse file is named in a warning and left out: import
    would refuse it, and the backup must stay restorable."""
    folder = without_backup(original, tmp_path / "w")
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create table my_notes as select 'call back' as note")
    con.close()
    capsys.readouterr()
    assert run_cli(folder, "export-warehouse", str(folder / "backup")) == 0
    assert "my_notes" in capsys.readouterr().err
    assert not (folder / "backup" / "my_notes.parquet").exists()
    assert not any(p.name.startswith(("int_", "mart_")) for p in (folder / "backup").iterdir())
    code, err = restore(original, folder / "backup", capsys)
    assert code == 0, err


def test_export_of_a_warehouse_not_yet_migrated_writes_our_columns(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warehouse last opened by an older version lacks run_steps and a forecast_deals column
    (export opens it read-only, so it is not migrated): the backup still has our tables and
    columns, empty and NULL, and restores."""
    folder = without_backup(original, tmp_path / "w")
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("drop table run_steps")
    con.execute("alter table forecast_deals drop column amount_imputed")
    con.close()
    assert run_cli(folder, "-q", "export-warehouse", str(folder / "backup")) == 0
    assert manifest(folder / "backup")["tables"]["run_steps"]["rows"] == 0
    code, err = restore(original, folder / "backup", capsys)
    assert code == 0, err
    assert restored(folder / "backup", "select count(*) from run_steps") == [(0,)]
