"""Dates and amounts as people's CRMs write them, read with no date_format or decimal in the
config (issue 13): the layout of each date column is detected from its values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.ingest.locale import (
    EPOCH_MILLISECONDS,
    Locale,
    detect_locale,
    number_sql,
)
from tests.adapter_fixtures import batches, query
from tests.conftest import GENERIC_CONFIG, run_cli, write


def generic_export(folder: Path, rows: list[str], *, source_extra: str = "") -> None:
    """folder/p.toml reading deals.csv (id, stage, created, closed, value, rep) and the file."""
    write(folder / "p.toml", GENERIC_CONFIG.format(history=source_extra))
    header = "id,stage,created,closed,value,rep"
    (folder / "deals.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def deal_dates(folder: Path) -> list[tuple]:
    return query(
        folder,
        "select deal_id, created_at::varchar, closed_at::varchar from deals order by deal_id",
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("created", "closed", "expected_created", "expected_closed"),
    [
        (
            '"15 Apr, 2021 00:02:00"',
            '"3 May, 2021 17:45:10"',
            "2021-04-15 00:02:00",
            "2021-05-03 17:45:10",
        ),
        ('"Apr 15, 2021"', '"May 3, 2021"', "2021-04-15 00:00:00", "2021-05-03 00:00:00"),
        (
            '"Apr 15, 2021 12:02 AM"',
            '"May 3, 2021 5:45 PM"',
            "2021-04-15 00:02:00",
            "2021-05-03 17:45:00",
        ),
        ("15-Apr-21", "03-May-21", "2021-04-15 00:00:00", "2021-05-03 00:00:00"),
        # +0000 is UTC; +0200 is two hours ahead of it.
        (
            "2021-04-15T00:02:00.000+0000",
            "2021-05-03T17:45:10.500+0200",
            "2021-04-15 00:02:00",
            "2021-05-03 15:45:10.5",
        ),
        # Italian month names, abbreviated and in full.
        ("15 apr 2021", "3 mag 2021", "2021-04-15 00:00:00", "2021-05-03 00:00:00"),
        ("15 aprile 2021", "3 Maggio 2021", "2021-04-15 00:00:00", "2021-05-03 00:00:00"),
    ],
)
def test_a_date_layout_is_read_with_no_date_format(
    tmp_path: Path,
    created: str,
    closed: str,
    expected_created: str,
    expected_closed: str,
) -> None:
    generic_export(
        tmp_path,
        [f"D1,Won,{created},{closed},1000,Ann", f"D2,Proposal,{created},,500,Bob"],
    )
    assert run_cli(tmp_path, "ingest") == 0
    assert deal_dates(tmp_path) == [
        ("D1", expected_created, expected_closed),
        ("D2", expected_created, None),
    ]
    assert batches(tmp_path) == [("deals.csv", "deals", 2, 2, 0, 0)]


@pytest.mark.slow
def test_each_column_has_its_own_layout(tmp_path: Path) -> None:
    generic_export(
        tmp_path,
        [
            'D1,Won,"15 Apr, 2021 00:02:00",2021-05-03T17:45:10.000+0000,1000,Ann',
            'D2,Lost,"16 Apr, 2021 09:30:00",1620064800000,500,Bob',
            'D3,Lost,"17 Apr, 2021 23:59:59",2021-05-04T10:00:00.000+0000,500,Bob',
        ],
    )
    assert run_cli(tmp_path, "ingest") == 0
    # 1620064800000 ms after 1970-01-01 is 2021-05-03 18:00 UTC (18,751 days and 18 hours).
    assert deal_dates(tmp_path) == [
        ("D1", "2021-04-15 00:02:00", "2021-05-03 17:45:10"),
        ("D2", "2021-04-16 09:30:00", "2021-05-03 18:00:00"),
        ("D3", "2021-04-17 23:59:59", "2021-05-04 10:00:00"),
    ]


def _locale_of(values: dict[str, list[str | None]], **settings: str | None) -> Locale:
    """The locale detect_locale decides for a table of date columns (lines from 2)."""
    con = duckdb.connect()
    columns = list(values)
    rows = zip(*values.values(), strict=True)
    con.execute(
        "create table t as select * from (values "
        + ", ".join(
            "(" + ", ".join([str(line), *(f"'{v}'" if v else "null" for v in row)]) + ")"
            for line, row in enumerate(rows, start=2)
        )
        + f") v(_row, {', '.join(columns)})"
    )
    return detect_locale(
        con,
        "t",
        {},
        {c: c for c in columns},
        decimal=".",
        date_order=settings.get("date_order"),
        date_format=settings.get("date_format"),
        delimiter=",",
        file_label="deals.csv",
        source_name="crm",
    )


def test_the_locale_records_the_layout_that_reads_most_of_each_column() -> None:
    locale = _locale_of(
        {
            # Two layouts; the one with a time reads more values.
            "created_at": ["15 Apr, 2021 00:02:00", "16 Apr, 2021 09:30:00", "17 Apr, 2021", None],
            "closed_at": ["2021-05-03T17:45:10.000+0000", None, None, None],
            "updated_at": ["1620064800000", "1620064800001", None, None],
            "expected_close_date": ["31/05/2021", "01/06/2021", None, None],
        }
    )
    assert locale.date_order == "dmy"
    assert locale.date_formats == {
        "created_at": "%d %b, %Y %H:%M:%S",
        "closed_at": "%Y-%m-%dT%H:%M:%S.%f%z",
        "updated_at": EPOCH_MILLISECONDS,
        "expected_close_date": "%d/%m/%Y",
    }
    # Layouts DuckDB's ISO cast or the epoch rule reads need no strptime.
    assert locale.date_layouts == {
        "created_at": ("%d %b, %Y %H:%M:%S", "%d %b, %Y"),
        "expected_close_date": ("%d/%m/%Y",),
    }
    assert locale.date_hints == {}


def test_a_configured_date_format_wins_and_the_error_names_the_one_that_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generic_export(
        tmp_path,
        [
            "D1,Won,2021-04-10,2021-04-20,1000,Ann",
            "D2,Won,2021-04-11,2021-04-21,1000,Ann",
            "D3,Won,2021-04-12,2021-04-22,1000,Ann",
            "D4,Won,2021-04-13,2021-04-23,1000,Ann",
            "D5,Won,2021-04-14,2021-04-24,1000,Ann",
            'D6,Proposal,"15 Apr, 2021 00:02:00",,500,Bob',
        ],
        source_extra='date_format = "%Y-%m-%d"',
    )
    assert run_cli(tmp_path, "ingest") == 0
    assert [d for d, *_ in deal_dates(tmp_path)] == ["D1", "D2", "D3", "D4", "D5"]
    suggestion = "set date_format = \"%d %b, %Y %H:%M:%S\" for source 'crm'"
    ((line, column, reason),) = query(
        tmp_path, "select source_row, column_name, reason from rejected_rows"
    )
    assert (line, column) == (7, "created_at")
    assert "'15 Apr, 2021 00:02:00'" in reason and suggestion in reason
    warning = next(m for m in capsys.readouterr().err.splitlines() if "cannot read" in m)
    assert "deals.csv line 7, column created_at:" in warning
    assert "'15 Apr, 2021 00:02:00'" in warning and suggestion in warning


@pytest.mark.slow
def test_a_column_no_layout_reads_fails_the_file_naming_line_column_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generic_export(
        tmp_path,
        ["D1,Won,15h04 le 3,2021-04-20,1000,Ann", "D2,Won,16h00 le 4,2021-04-21,1000,Ann"],
    )
    assert run_cli(tmp_path, "ingest") != 0
    err = capsys.readouterr().err
    warning = next(m for m in err.splitlines() if "cannot read '15h04" in m)
    assert "deals.csv line 2, column created_at:" in warning
    assert 'set date_format = "..."' in warning and "source 'crm'" in warning
    assert query(tmp_path, "select count(*) from deals") == [(0,)]


def test_day_first_or_month_first_is_still_decided_by_the_whole_file(tmp_path: Path) -> None:
    generic_export(
        tmp_path,
        [
            "D1,Won,03/04/2021 10:00,25/04/2021 10:00,1000,Ann",
            "D2,Proposal,04/04/2021 11:30,,500,Bob",
        ],
    )
    assert run_cli(tmp_path, "ingest") == 0
    assert deal_dates(tmp_path) == [
        ("D1", "2021-04-03 10:00:00", "2021-04-25 10:00:00"),
        ("D2", "2021-04-04 11:30:00", None),
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # Dollars are the source's currency (USD); codes and the euro sign name theirs.
        (['"$22,700.00"', '"$1,500.50"'], [("D1", 22700.0, "USD"), ("D2", 1500.5, "USD")]),
        (["$342.09K", "$1.5M"], [("D1", 342090.0, "USD"), ("D2", 1500000.0, "USD")]),
        (["12k", "2bn"], [("D1", 12000.0, "USD"), ("D2", 2e9, "USD")]),
        (['"1.234,56 €"', '"2.000,00 €"'], [("D1", 1234.56, "EUR"), ("D2", 2000.0, "EUR")]),
        (['"1,2 Mio €"', "3 kEUR"], [("D1", 1200000.0, "EUR"), ("D2", 3000.0, "EUR")]),
        (['"EUR 1,234"', '"EUR 20,000.50"'], [("D1", 1234.0, "EUR"), ("D2", 20000.5, "EUR")]),
        # Upper-case MLN is millions, not a currency code.
        (["1.5 MLN", "2 MLN"], [("D1", 1500000.0, "USD"), ("D2", 2000000.0, "USD")]),
    ],
)
def test_amounts_as_crms_write_them(
    tmp_path: Path, values: list[str], expected: list[tuple]
) -> None:
    generic_export(
        tmp_path,
        [f"D{i},Won,2021-04-15,2021-05-03,{v},Ann" for i, v in enumerate(values, start=1)],
    )
    assert run_cli(tmp_path, "ingest") == 0
    rows = query(tmp_path, "select deal_id, amount, currency from deals order by 1")
    assert rows == [(d, pytest.approx(a), c) for d, a, c in expected]


@pytest.mark.slow
def test_an_accounting_negative_amount_is_read_and_rejected_as_negative(tmp_path: Path) -> None:
    generic_export(
        tmp_path,
        ['D1,Won,2021-04-15,2021-05-03,"(1,234.00)",Ann', "D2,Won,2021-04-15,2021-05-03,10,Ann"],
    )
    assert run_cli(tmp_path, "ingest") == 0
    ((line, column, reason),) = query(
        tmp_path, "select source_row, column_name, reason from rejected_rows"
    )
    assert (line, column) == (2, "amount")
    # Read as a number (a negative one), not "cannot read".
    assert "is not a plausible amount" in reason
    con = duckdb.connect()
    negative = number_sql("'(1,234.00)'", Locale())
    assert con.execute(f"select {negative}").fetchall() == [(-1234.0,)]
