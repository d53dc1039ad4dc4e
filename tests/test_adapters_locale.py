"""Formats and locales: encodings, separators, XLSX sheets, decimal commas, date orders."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapter_fixtures import adapter_config, ingest, query
from tests.conftest import write

HUBSPOT_ROWS = [
    ["Record ID", "Deal Name", "Deal Stage", "Amount", "Create Date", "Close Date"],
    ["1", "Zoë Müller GmbH", "Qualified To Buy", "1.234,50", "03/01/2024", "28/02/2024"],
    ["2", "Café Noir", "Closed Won", "€ 10.000", "15/01/2024", "20/02/2024"],
]


@pytest.mark.parametrize(
    ("encoding", "separator"), [("utf-16", "\t"), ("cp1252", ";"), ("utf-8-sig", ",")]
)
def test_encodings_and_separators_with_a_european_locale(
    tmp_path: Path, encoding: str, separator: str
) -> None:
    # With ',' as separator the amounts must be quoted, as spreadsheets write them.
    quote = '"' if separator == "," else ""
    lines = [
        separator.join(f"{quote}{v}{quote}" if "," in v else v for v in row) for row in HUBSPOT_ROWS
    ]
    (tmp_path / "deals.csv").write_text("\n".join(lines) + "\n", encoding=encoding)
    adapter_config(tmp_path, "hubspot", "deals.csv", ["Qualified To Buy"], currency="EUR")
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select name, amount, status, created_at::date::varchar, closed_at::date::varchar "
        "from deals order by deal_id",
    ) == [
        # 28/02 settles the order (day first) for every date of the file, 03/01 included.
        ("Zoë Müller GmbH", 1234.5, "open", "2024-01-03", None),
        ("Café Noir", 10000.0, "won", "2024-01-15", "2024-02-20"),
    ]


@pytest.mark.slow
def test_xlsx_with_the_data_on_a_named_sheet(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Exported from Salesforce"])
    sheet = book.create_sheet("Opportunities")
    sheet.append(["Opportunity ID", "Stage", "Created Date", "Close Date", "Amount"])
    sheet.append(["X1", "Closed Won", "2024-01-02", "2024-02-03", 1500.25])
    book.save(tmp_path / "report.xlsx")
    adapter_config(
        tmp_path, "salesforce", "report.xlsx", ["Prospecting"], source_extra='sheet = "Deals"'
    )
    assert ingest(tmp_path) == 2  # no such sheet: the error lists the ones there are
    adapter_config(
        tmp_path,
        "salesforce",
        "report.xlsx",
        ["Prospecting"],
        source_extra='sheet = "Opportunities"',
    )
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id, status, amount from deals") == [("X1", "won", 1500.25)]


def test_ambiguous_dates_ask_for_date_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "deals.csv",
        """
        Deal - ID,Deal - Stage,Deal - Status,Deal - Add time,Deal - Expected close date
        1,Lead,open,03/04/2024,05/06/2024
        2,Lead,open,01/02/2024,11/12/2024
        """,
    )
    adapter_config(tmp_path, "pipedrive", "deals.csv", ["Lead"])
    assert ingest(tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "could be day-first or month-first" in err and 'date_order = "dmy"' in err
    adapter_config(tmp_path, "pipedrive", "deals.csv", ["Lead"], source_extra='date_order = "mdy"')
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select created_at::date::varchar, expected_close_date::varchar from deals order by 1",
    ) == [("2024-01-02", "2024-11-12"), ("2024-03-04", "2024-05-06")]


def test_mixed_decimal_separators_fail_and_decimal_settles_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "deals.csv",
        """
        Deal - ID;Deal - Stage;Deal - Status;Deal - Add time;Deal - Value
        1;Lead;open;2024-01-02;1.234,56
        2;Lead;open;2024-01-03;99.5
        """,
    )
    adapter_config(tmp_path, "pipedrive", "deals.csv", ["Lead"])
    assert ingest(tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "decimal comma ('1.234,56') and a decimal point ('99.5')" in err
    adapter_config(tmp_path, "pipedrive", "deals.csv", ["Lead"], source_extra='decimal = ","')
    assert ingest(tmp_path) == 0
    # With a decimal comma, '99.5' is 995 written with a thousands dot: as the file says.
    assert query(tmp_path, "select amount from deals order by deal_id") == [(1234.56,), (995.0,)]


def test_month_names_and_epoch_milliseconds(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        Record ID,Deal Stage,Create Date,Close Date
        1,Closed Won,"15 Apr, 2021",1619827200000
        """,
    )
    adapter_config(tmp_path, "hubspot", "deals.csv", ["Qualified To Buy"])
    assert ingest(tmp_path) == 0
    # 1619827200000 ms = 2021-05-01 00:00:00 UTC
    assert query(tmp_path, "select created_at::varchar, closed_at::varchar from deals") == [
        ("2021-04-15 00:00:00", "2021-05-01 00:00:00")
    ]
