"""`export-xlsx`: openpyxl reads the workbook back: typed cells, frozen headers, the latest base
run only, and a deal named like a formula stays text (issue 17)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipeline_analytics.warehouse import connect
from pipeline_analytics.workbook import write_workbook
from tests.conftest import run_cli, write

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """Three forecast runs (base #1, base #2, scenario #3, newest last) and one hand-made mart."""
    con = connect(path)
    con.execute(
        "insert into forecast_runs (run_id, as_of, created_at, scenario) values "
        "(1, '2026-11-01', '2026-11-01 06:00', null), (2, '2026-12-01', '2026-12-01 06:00', null),"
        " (3, '2026-12-01', '2026-12-01 07:00', 'lose_acme')"
    )
    con.execute(
        "insert into forecast_targets (run_id, period, period_kind, period_start, period_end, "
        "owner, target, p_hit, coverage) values "
        "(1, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', null, 1000, 0.61, 2.5), "
        "(2, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', null, 1000, 0.47, 1.75), "
        "(2, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', 'Ann', 400, null, null), "
        "(3, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', null, 1000, 0.12, 0.5)"
    )
    con.execute(
        "create table mart_deal_details as select * from (values "
        f"('D1', '{FORMULA_NAME.replace(chr(39), chr(39) * 2)}', 1234.5, date '2026-11-30', "
        "timestamp '2026-11-30 14:05:09', true, 4611686018427387904, 'nan'::double), "
        "('D2', '+SUM(A1)', null, null, null, false, 7, 2.0)"
        ") as t(deal_id, name, amount_base, expected_close_date, created_at, won, big_id, ratio)"
    )
    return con


def test_workbook_types_frozen_header_and_formula_text(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb")
    out = tmp_path / "out" / "book.xlsx"
    summaries = write_workbook(con, out)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [
        "about", "forecast_bookings", "forecast_periods", "forecast_deals", "forecast_cashflow",
        "forecast_targets", "mart_deal_details",
    ]  # fmt: skip
    assert [(s.sheet, s.rows) for s in summaries][-2:] == [
        ("forecast_targets", 2),  # base run #2's two targets: not run #1's, not the scenario's
        ("mart_deal_details", 2),
    ]
    assert {s.rows for s in summaries[:4]} == {0}  # the run stored nothing else: header only
    for name in book.sheetnames:
        assert book[name].freeze_panes == "A2", name

    deals = book["mart_deal_details"]
    header = [c.value for c in deals[1]]
    assert header == [
        "deal_id", "name", "amount_base", "expected_close_date", "created_at", "won", "big_id",
        "ratio",
    ]  # fmt: skip
    first = {h: c for h, c in zip(header, deals[2], strict=True)}
    assert first["name"].value == FORMULA_NAME and first["name"].data_type == "s"
    assert first["amount_base"].value == 1234.5 and first["amount_base"].data_type == "n"
    assert first["expected_close_date"].is_date
    assert first["expected_close_date"].value == datetime(2026, 11, 30)
    assert first["created_at"].value == datetime(2026, 11, 30, 14, 5, 9)
    assert first["won"].value is True
    # 2**62 has more digits than an Excel number keeps: written as text, exactly
    assert first["big_id"].value == "4611686018427387904"
    assert first["ratio"].value is None  # NaN has no Excel number: left empty, never 0
    second = {h: c for h, c in zip(header, deals[3], strict=True)}
    assert second["name"].value == "+SUM(A1)" and second["name"].data_type == "s"
    assert second["amount_base"].value is None and second["won"].value is False
    assert second["big_id"].value == 7 and second["ratio"].value == 2.0

    targets = book["forecast_targets"]
    columns = [c.value for c in targets[1]]
    rows = [dict(zip(columns, (c.value for c in r), strict=True)) for r in targets.iter_rows(2)]
    assert {(r["run_id"], r["owner"], r["p_hit"]) for r in rows} == {
        (2, None, 0.47),
        (2, "Ann", None),
    }
    assert rows[0]["period_start"] == datetime(2026, 10, 1)

    about = book["about"]
    assert [c.value for c in about[1]] == ["sheet", "table", "rows", "note"]
    assert [about.cell(r, 3).value for r in range(2, 8)] == [0, 0, 0, 0, 2, 2]
    assert "#2" in about.cell(9, 1).value


def test_workbook_replaces_the_file_atomically(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb")
    out = tmp_path / "book.xlsx"
    out.write_bytes(b"old")
    write_workbook(con, out)
    assert openpyxl.load_workbook(out).sheetnames[0] == "about"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".book")] == []


def test_no_forecast_yet_says_so(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    out = tmp_path / "book.xlsx"
    assert write_workbook(con, out) == []
    about = openpyxl.load_workbook(out)["about"]
    assert "No base forecast run" in about.cell(3, 1).value


@pytest.mark.slow
def test_export_xlsx_command_on_an_export(export_dir: Path) -> None:
    """ingest and build a tiny export whose deal is named like a formula, then export-xlsx: the
    marts' deal sheet holds the name as text and the amount as a number."""
    write(
        export_dir / "deals.csv",
        f"""
        id,name,stage,value,created,closed,rep
        D1,"{FORMULA_NAME.replace('"', '""')}",Won,1200,2026-01-05,2026-02-10,Ann
        D2,Beta,Proposal,800,2026-01-20,,Bob
        D3,Gamma,Lost,300,2026-01-07,2026-03-01,Ann
        """,
    )
    write(
        export_dir / "history.csv",
        """
        deal_id,stage,changed_at
        D1,Prospecting,2026-01-05
        D2,Prospecting,2026-01-20
        D3,Prospecting,2026-01-07
        """,
    )
    assert run_cli(export_dir, "ingest") == 0
    assert run_cli(export_dir, "build") == 0
    out = export_dir / "book.xlsx"
    assert run_cli(export_dir, "export-xlsx", str(out)) == 0
    book = openpyxl.load_workbook(out)
    sheet = book["mart_deal_details"]
    columns = [c.value for c in sheet[1]]
    rows = [dict(zip(columns, (c.value for c in r), strict=True)) for r in sheet.iter_rows(2)]
    by_id = {r["deal_id"]: r for r in rows}
    assert by_id["D1"]["name"] == FORMULA_NAME
    assert by_id["D1"]["amount_base"] == 1200
    monthly = book["mart_kpis_monthly"]
    month = [c.value for c in monthly[1]].index("month") + 1
    assert monthly.cell(2, month).is_date
    assert isinstance(monthly.cell(2, month).value, datetime)
    assert sheet.freeze_panes == "A2"
    assert not any(name.startswith("forecast_") for name in book.sheetnames)  # no forecast run


def test_export_xlsx_without_a_warehouse_says_so(tmp_path: Path) -> None:
    write(tmp_path / "p.toml", '[[sources]]\nname = "c"\nadapter = "generic"\npath = "d.csv"\n')
    assert run_cli(tmp_path, "export-xlsx", str(tmp_path / "x.xlsx")) == 2
    assert not (tmp_path / "x.xlsx").exists()
