"""The sample's results equal the snapshot taken before the restructuring of issue 15.

Since the models were rewritten to run on Spark too (issue 16), the snapshot also holds the marts
issue 15 added, and `int_deals_as_of` bounds open time ranges with 1900-01-01 and 9999-12-31
instead of infinite timestamps, which Spark lacks; nothing else changed.

Issue 17 added tables, columns and report sections (targets, scenarios, run changes, forecast
categories, slippage; the reps' calls in the sample files) and checked, before retaking the
snapshot, that every earlier table, KPI, chart and sentence was unchanged. Then the sample config
gained targets and a scenario; a target changes no draw of the simulation, so every earlier
forecast number stayed as it was.

Every core, intermediate, mart and forecast table of the sample and its CRM renderings, and every
KPI value, chart series and visible word of the English and Italian reports, compared with
tests/snapshots/sample/ (written by `python -m tests.sample_snapshot`). Numbers compare within a
relative 1e-9 so the check holds on any machine; everything else compares exactly.
"""

from __future__ import annotations

import math

import pytest

from tests.sample_snapshot import TOLERANCE, Captured, assert_frames_close, capture, read

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    return capture(tmp_path_factory.mktemp("snapshot"))


@pytest.fixture(scope="module")
def snapshot() -> Captured:
    return read()


def assert_json_close(where: str, got, want) -> None:
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, int | float) and isinstance(want, int | float), where
        assert math.isclose(got, want, rel_tol=TOLERANCE, abs_tol=TOLERANCE), (
            f"{where}: {got} != {want}"
        )
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), f"{where}: keys differ"
        for key in want:
            assert_json_close(f"{where}.{key}", got[key], want[key])
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_json_close(f"{where}[{i}]", g, w)
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def test_every_table_equals_the_snapshot(captured: Captured, snapshot: Captured) -> None:
    # A restructuring may add tables (new marts) and columns; none of the snapshot's may go.
    missing = set(snapshot.tables) - set(captured.tables)
    assert not missing, f"tables gone: {sorted(missing)}"
    for name, want in snapshot.tables.items():
        assert_frames_close(name, captured.tables[name], want)


@pytest.mark.parametrize("language", ["en", "it"])
def test_every_report_figure_equals_the_snapshot(
    captured: Captured, snapshot: Captured, language: str
) -> None:
    got, want = captured.reports[language], snapshot.reports[language]
    assert [k for k, _ in got["kpis"]] == [k for k, _ in want["kpis"]]
    for (key, g), (_, w) in zip(got["kpis"], want["kpis"], strict=True):
        if g and w:
            assert math.isclose(float(g), float(w), rel_tol=TOLERANCE), f"kpi {key}: {g} != {w}"
        else:
            assert g == w, f"kpi {key}"
    assert_json_close("charts", got["charts"], want["charts"])
    assert got["text"] == want["text"]
