"""Money: dated rates from config and a rates file, the rate valid at the (expected) close date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.adapter_fixtures import adapter_config, ingest, query
from tests.conftest import write

DEALS = """
"Id","StageName","Amount","CurrencyIsoCode","CloseDate","CreatedDate","IsClosed","IsWon"
"M1","Closed Won","100","EUR","2024-02-15","2024-01-05 09:00:00","1","1"
"M2","Closed Won","100","EUR","2024-03-10","2024-01-06 09:00:00","1","1"
"M3","Prospecting","100","EUR","2024-04-01","2024-01-07 09:00:00","0","0"
"M4","Prospecting","1000","JPY","2024-04-01","2024-01-08 09:00:00","0","0"
"M5","Prospecting","50","USD","2024-04-01","2024-01-09 09:00:00","0","0"
"M6","Closed Lost","100","EUR","2023-12-31","2023-12-01 09:00:00","1","0"
"""
# Italian-style rates file: ';' and decimal commas, read like any export.
RATES = """
currency;valid_from;rate
EUR;2024-01-01;1,10
EUR;2024-03-01;{march}
GBP;2024-01-01;1,25
"""


@pytest.fixture
def priced(tmp_path: Path) -> Path:
    write(tmp_path / "Opportunity.csv", DEALS)
    write(tmp_path / "rates.csv", RATES.format(march="1,20"))
    adapter_config(
        tmp_path,
        "salesforce",
        "Opportunity.csv",
        ["Prospecting"],
        pipeline_extra='rates = { EUR = 1.05 }\nrates_file = "rates.csv"',
    )
    assert ingest(tmp_path) == 0
    return tmp_path


def test_amount_base_uses_the_rate_valid_at_the_close_date(priced: Path) -> None:
    assert query(priced, "select deal_id, amount_base from deals order by 1") == [
        ("M1", pytest.approx(110.0)),  # closed 02-15: the 01-01 rate 1.10
        ("M2", pytest.approx(120.0)),  # closed 03-10: the 03-01 rate 1.20
        ("M3", pytest.approx(120.0)),  # open, expected 04-01: the 03-01 rate
        ("M4", None),  # JPY has no rate: left out of money totals, not summed as is
        ("M5", 50.0),  # already in the reporting currency
        ("M6", pytest.approx(105.0)),  # before the file's first rate: the config rate 1.05
    ]
    assert query(priced, "select * from fx_rates order by currency, valid_from") == [
        ("EUR", date(1900, 1, 1), 1.05),
        ("EUR", date(2024, 1, 1), 1.1),
        ("EUR", date(2024, 3, 1), 1.2),
        ("GBP", date(2024, 1, 1), 1.25),
    ]


@pytest.mark.slow
def test_a_changed_rate_reprices_the_deals(priced: Path) -> None:
    write(priced / "rates.csv", RATES.format(march="1,30"))
    assert ingest(priced) == 0  # no new deals file: only the rates changed
    assert query(
        priced,
        "select deal_id, amount_base from deals where deal_id in ('M1', 'M2', 'M3') order by 1",
    ) == [
        ("M1", pytest.approx(110.0)),
        ("M2", pytest.approx(130.0)),
        ("M3", pytest.approx(130.0)),
    ]


def test_a_bad_rates_line_fails_naming_it(priced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(priced / "rates.csv", RATES.format(march="abc"))
    assert ingest(priced) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "rates.csv: line 3: currency 'EUR', valid_from '2024-03-01', rate 'abc'" in err
    # Nothing changed: the old rates still price the deals.
    assert query(priced, "select amount_base from deals where deal_id = 'M2'") == [
        (pytest.approx(120.0),)
    ]


# A report export without a currency column: '$' says "a dollar", not which one.
DOLLAR_DEALS = """
"Id","StageName","Amount","CloseDate","CreatedDate","IsClosed","IsWon"
"S1","Prospecting","$1,000.00","2024-04-01","2024-01-05 09:00:00","0","0"
"S2","Prospecting","1,000.00","2024-04-01","2024-01-06 09:00:00","0","0"
"S3","Prospecting","EUR 1,000.00","2024-04-01","2024-01-07 09:00:00","0","0"
"""


@pytest.mark.parametrize(
    ("source_currency", "expected"),
    [
        # The source's amounts are in US dollars: '$' is USD, a bare number too.
        ("USD", [("S1", "USD", 900.0), ("S2", "USD", 900.0), ("S3", "EUR", 1000.0)]),
        ("CAD", [("S1", "CAD", 700.0), ("S2", "CAD", 700.0), ("S3", "EUR", 1000.0)]),
        # Nothing says which dollar: '$' is rejected, never taken for the reporting currency.
        (None, [("S2", "EUR", 1000.0), ("S3", "EUR", 1000.0)]),
    ],
)
def test_a_dollar_sign_is_the_sources_dollar_or_rejected(
    tmp_path: Path, source_currency: str | None, expected: list[tuple]
) -> None:
    write(tmp_path / "Opportunity.csv", DOLLAR_DEALS)
    adapter_config(
        tmp_path,
        "salesforce",
        "Opportunity.csv",
        ["Prospecting"],
        currency="EUR",
        pipeline_extra="rates = { USD = 0.9, CAD = 0.7 }",
        source_extra=f'currency = "{source_currency}"' if source_currency else "",
    )
    assert ingest(tmp_path) == 0
    rows = query(tmp_path, "select deal_id, currency, amount_base from deals order by 1")
    assert rows == [(d, c, pytest.approx(a)) for d, c, a in expected]
    rejected = query(tmp_path, "select source_row, column_name, reason from rejected_rows")
    if source_currency is None:
        ((line, column, reason),) = rejected
        assert (line, column) == (2, "amount")
        assert "'$1,000.00' is written with $" in reason
        assert "set currency = " in reason and "source 'crm'" in reason
    else:
        assert rejected == []
