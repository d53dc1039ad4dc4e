"""Spreadsheet-readable files the package writes neutralise formula text (issue 14 item 8).

CRM text is stored exactly as exported; every CSV writer goes through `spreadsheet.write_csv`,
which gives text a spreadsheet would run as a formula a leading `'`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

from pipeline_analytics import spreadsheet
from pipeline_analytics.sample import renderings, shapes, simulator

PACKAGE = Path(spreadsheet.__file__).resolve().parent
FORMULAS = ['=HYPERLINK("http://evil.example")', "+SUM(1)", "-2+3", "@A1", "\tx", "\rx"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_gets_a_leading_quote(text: str) -> None:
    assert spreadsheet.neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Acme - New", "a=b", "", "'=quoted already", "100"])
def test_other_text_is_unchanged(text: str) -> None:
    assert spreadsheet.neutralise(text) == text


def test_write_csv_neutralises_text_columns_only(tmp_path: Path) -> None:
    frame = pl.DataFrame({"name": [*FORMULAS, "Ann", None], "amount": [-1.5] * 6 + [2.0, 3.0]})
    path = tmp_path / "out.csv"
    spreadsheet.write_csv(frame, path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "amount"]
    assert [r[0] for r in rows[1:]] == [*("'" + f for f in FORMULAS), "Ann", ""]
    assert [r[1] for r in rows[1:]] == ["-1.5"] * 6 + ["2.0", "3.0"]  # numbers stay numbers


def test_write_csv_returns_the_text_when_given_no_path() -> None:
    text = spreadsheet.write_csv(pl.DataFrame({"a": ["=1"]}), separator=";")
    assert text == "a\n'=1\n"


def test_every_csv_writer_of_the_package_goes_through_the_helper() -> None:
    """A writer calling polars' write_csv (or csv, or Excel writers) directly would skip it."""
    direct = re.compile(
        r"\.write_csv\(|\.write_excel\(|csv\.writer|to_csv\(|to_excel\("
        r"|\bcopy\b.*\bto\b.*(csv|xlsx)",  # DuckDB's COPY ... TO a CSV (Parquet is no spreadsheet)
        re.IGNORECASE,
    )
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "spreadsheet.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if direct.search(line) and "spreadsheet.write_csv" not in line
    ]
    assert offenders == []


def test_the_sample_writers_neutralise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each writer of the sample (simulated exports) writes through the helper: a simulated
    owner named like a formula comes out quoted in every file that carries owners as text."""
    real = simulator.simulate

    def with_formula_owner(
        n_deals: int, seed: int, **kwargs: object
    ) -> simulator.SimulatedPipeline:
        pipeline = real(n_deals, seed, **kwargs)  # type: ignore[arg-type]
        deals = pipeline.deals.with_columns(pl.lit("=EVIL()").alias("sales_agent"))
        return simulator.SimulatedPipeline(
            deals, pipeline.stage_history, pipeline.activities, pipeline.truth
        )

    monkeypatch.setattr(simulator, "simulate", with_formula_owner)
    monkeypatch.setattr(shapes, "simulate", with_formula_owner)
    simulator.write_sample(tmp_path / "sample", 30, 1)
    shapes.write_shape(shapes.SHAPES[0], tmp_path / "shape", 30, 1)
    pipeline = with_formula_owner(30, 1)
    owners = [tmp_path / "sample" / "deals.csv", tmp_path / "shape" / "deals.csv"]
    owners += renderings.write_rendering("hubspot", pipeline, tmp_path / "hubspot")
    owners += renderings.write_rendering("pipedrive_it", pipeline, tmp_path / "pipedrive")[:1]
    for path in owners:
        text = path.read_text(encoding="utf-8-sig")
        assert "'=EVIL()" in text and "=EVIL()" not in text.replace("'=EVIL()", ""), path.name
    # Salesforce writes owner ids, not names: its files go through the helper all the same.
    for path in renderings.write_rendering("salesforce", pipeline, tmp_path / "salesforce"):
        assert path.stat().st_size > 0
