"""Issue 14 (files): a bad file does not block the others, the `encoding` setting, XLSX formulas."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.adapter_fixtures import batches, ingest, query
from tests.conftest import GENERIC_CONFIG, write

HEADER = "id,stage,created,closed,value,rep\n"
GBK_ROWS = "K1,Prospecting,2024-01-01,,100,张伟\n"


def _folder(tmp_path: Path, source_extra: str = "") -> Path:
    config = GENERIC_CONFIG.format(history=source_extra).replace("deals.csv", "*.csv")
    write(tmp_path / "p.toml", config)
    return tmp_path


@pytest.mark.slow
def test_a_file_that_fails_does_not_block_the_next_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path)
    write(folder / "a.csv", HEADER + "A1,Prospecting,2024-01-01,,100,Ann\n")
    (folder / "b.csv").write_bytes((HEADER + GBK_ROWS).encode("gbk"))
    write(folder / "c.csv", HEADER + "C1,Prospecting,2024-01-03,,300,Cy\n")
    assert ingest(folder) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "b.csv" in error and 'encoding = "' in error
    assert [b[0] for b in batches(folder)] == ["a.csv", "c.csv"]
    assert query(folder, "select deal_id from deals order by 1") == [("A1",), ("C1",)]


def test_the_encoding_setting_reads_a_gbk_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 'encoding = "gbk"')
    (folder / "b.csv").write_bytes((HEADER + GBK_ROWS).encode("gbk"))
    assert ingest(folder) == 0
    assert query(folder, "select owner from deals") == [("张伟",)]


def test_an_unknown_encoding_setting_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, 'encoding = "klingon"')
    write(folder / "a.csv", HEADER + "A1,Prospecting,2024-01-01,,100,Ann\n")
    assert ingest(folder) == 2
    assert "encoding" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.slow
def test_cp1252_with_accents_still_loads(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "a.csv").write_bytes(
        (HEADER + "A1,Prospecting,2024-01-01,,100,Zoë Müller\n").encode("cp1252")
    )
    assert ingest(folder) == 0
    assert query(folder, "select owner from deals") == [("Zoë Müller",)]


@pytest.mark.slow
def test_xlsx_formula_cells_without_a_value_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import openpyxl

    folder = tmp_path
    write(folder / "p.toml", GENERIC_CONFIG.format(history="").replace("deals.csv", "deals.xlsx"))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "stage", "created", "closed", "value", "rep"])
    sheet.append(["X1", "Prospecting", "2024-01-01", None, "=100*2", "Ann"])  # no cached value
    sheet.append(["X2", "Prospecting", "2024-01-02", None, "300", "Bob"])
    book.save(folder / "deals.xlsx")
    with caplog.at_level(logging.WARNING):
        assert ingest(folder) == 0
    assert "E2" in caplog.text and "formula" in caplog.text


def test_a_wrong_encoding_setting_names_the_byte_and_leaves_no_temp_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, 'encoding = "ascii"')
    (folder / "a.csv").write_bytes((HEADER + "A1,Prospecting,2024-01-01,,100,Zoë\n").encode())
    assert ingest(folder) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    offset = len(HEADER) + len("A1,Prospecting,2024-01-01,,100,Zo")
    assert f"byte 0xC3 at offset {offset}" in error and "a.csv" in error
    temp = folder / "w.tmp"
    assert not temp.exists() or not any(temp.iterdir())


@pytest.mark.slow
def test_crlf_file_with_a_multi_line_value_and_a_blank_line_reports_physical_lines(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path)
    lines = [
        HEADER.strip(),
        'P1,Prospecting,2024-01-01,,100,"Ann',  # line 2, value continues on line 3
        'Lee"',
        "",  # line 4: blank
        "P2,Prospecting,2024-01-02,,100,Bob,extra",  # line 5: too many fields
        "P3,Prospecting,2024-01-03,,abc,Cy",  # line 6: bad amount
    ]
    (folder / "a.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    assert ingest(folder) == 0
    assert query(folder, "select source_row from rejected_rows order by 1") == [(5,), (6,)]
    assert query(folder, "select owner from deals") == [("Ann\r\nLee",)]
