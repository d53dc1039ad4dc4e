"""`pipeline-analytics rejects`: counts by file, column and kind of reason; `--out` writes every
rejected row as CSV with formula-like cells neutralised; the report shows the counts (mart_rejects).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli, write

# Line 5 and line 8: unreadable dates; line 6: an unreadable amount; line 7: a line with one field
# too many, whose raw text starts with `=` (a formula to a spreadsheet); line 8's owner starts
# with `-`. Lines 2-4 load.
DEALS = """
id,stage,created,closed,value,rep
D1,Won,2024-01-01,2024-03-01,1000,Ann
D2,Lost,2024-01-05,2024-02-01,500,Bob
D3,Proposal,2024-02-01,2024-12-31,2000,Ann
D4,Qualification,not-a-date,,300,Bob
D5,Prospecting,2024-03-01,,abc,Ann
=HYPERLINK("http://example.com"),Won,2024-01-01,2024-03-01,1000,Ann,extra
D6,Prospecting,31/02/2024,,10,-Bob
"""
DATE_REASON = "created_at: cannot read '…' as a date or timestamp"
AMOUNT_REASON = "amount: cannot read '…' as a number"
TOO_MANY_VALUES_REASON = (
    "too many values: more than the … columns of the header (a separator inside a value without "
    "quotes?); quote that value or export the file again"
)


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    from tests.conftest import GENERIC_CONFIG

    write(tmp_path / "p.toml", GENERIC_CONFIG.format(history=""))
    write(tmp_path / "deals.csv", DEALS)
    assert run_cli(tmp_path, "ingest") == 0
    return tmp_path


def test_summary_counts_by_file_column_and_reason(
    loaded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert run_cli(loaded, "rejects") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("4 rejected row(s) in 1 of 1 loaded file(s)")
    assert lines[1] == f"batch 1 (crm, deals) {loaded / 'deals.csv'}: 4 of 7 row(s) rejected"
    counted = [line.split(None, 2) for line in lines[2:5]]
    assert [(n, column) for n, column, _ in counted] == [
        ("2", "created_at"),
        ("1", "(whole"),
        ("1", "amount"),
    ]
    assert counted[0][2] == f"{DATE_REASON} (line 5)"
    assert counted[2][2] == f"{AMOUNT_REASON} (line 6)"
    assert "--out" in lines[5]


def test_out_writes_every_row_with_formula_cells_neutralised(loaded: Path) -> None:
    out = loaded / "rejects.csv"
    assert run_cli(loaded, "rejects", "--out", str(out)) == 0
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "batch_id",
        "source",
        "object",
        "file",
        "line",
        "column",
        "reason",
        "raw_record",
    ]
    assert [(r["line"], r["column"]) for r in rows] == [
        ("5", "created_at"),
        ("6", "amount"),
        ("7", ""),
        ("8", "created_at"),
    ]
    assert rows[0]["file"] == str(loaded / "deals.csv")
    assert rows[1]["reason"] == "amount: cannot read 'abc' as a number"
    assert json.loads(rows[1]["raw_record"])["value"] == "abc"
    # The raw line would run as a formula: it is written as text, with a leading quote.
    assert rows[2]["raw_record"].startswith("'=HYPERLINK(")
    # Inside the JSON record the value stays as exported (a cell starting `{` is no formula).
    assert json.loads(rows[3]["raw_record"])["rep"] == "-Bob"


@pytest.mark.slow
def test_batch_option_and_an_unknown_batch(
    loaded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(loaded / "deals.csv", DEALS.replace("not-a-date", "2024-02-03"))  # a second batch
    assert run_cli(loaded, "ingest") == 0
    capsys.readouterr()
    assert run_cli(loaded, "rejects", "--batch", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 rejected row(s) in 1 of 1 loaded file(s)")
    assert lines[1].startswith("batch 2 ")
    assert run_cli(loaded, "rejects", "--batch", "9") == 2
    assert "--batch 9: the warehouse has no batch 9 (batches with rejected rows: 1, 2)" in (
        capsys.readouterr().err
    )


def test_no_warehouse_and_no_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import GENERIC_CONFIG

    write(tmp_path / "p.toml", GENERIC_CONFIG.format(history=""))
    assert run_cli(tmp_path, "rejects") == 0
    assert "No warehouse" in capsys.readouterr().out
    write(tmp_path / "deals.csv", "id,stage,created,closed,value,rep\nD1,Won,2024-01-01,,1,Ann\n")
    assert run_cli(tmp_path, "ingest") == 0
    capsys.readouterr()
    assert run_cli(tmp_path, "rejects") == 0
    assert capsys.readouterr().out.strip() == "No rejected rows in the warehouse."


@pytest.mark.slow
def test_mart_rejects_and_the_report_count_by_reason(loaded: Path) -> None:
    assert run_cli(loaded, "build") == 0
    con = duckdb.connect(str(loaded / "w.duckdb"), read_only=True)
    try:
        mart = con.execute(
            "select column_name, reason, rejected_rows, files, first_batch_id, first_line "
            "from mart_rejects order by all"
        ).fetchall()
    finally:
        con.close()
    assert mart == [
        ("(whole line)", TOO_MANY_VALUES_REASON, 1, 1, 1, 7),
        ("amount", AMOUNT_REASON, 1, 1, 1, 6),
        ("created_at", DATE_REASON, 2, 1, 1, 5),
    ]
    assert run_cli(loaded, "report", "--output-dir", str(loaded / "reports")) == 0
    page = (loaded / "reports" / "latest.html").read_text(encoding="utf-8")
    section = page[page.index("Rejected rows by reason") :]
    assert "created_at: cannot read &#39;…&#39; as a date or timestamp" in section
    assert "`pipeline-analytics rejects` lists each" in page


@pytest.mark.slow
def test_mart_rejects_leaves_out_files_loaded_after_as_of(loaded: Path) -> None:
    assert run_cli(loaded, "build", "--as-of", "2024-01-01") == 0
    con = duckdb.connect(str(loaded / "w.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from mart_rejects").fetchall() == [(0,)]
    finally:
        con.close()
