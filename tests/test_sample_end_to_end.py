"""The whole job on the bundled sample, checked against the simulator's known parameters."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from tests.conftest import SAMPLE_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full `run` of the sample into a temp folder (reports land in its reports/)."""
    folder = tmp_path_factory.mktemp("sample")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        code = main(
            ["--config", str(SAMPLE_DIR / "pipeline.toml"), "--db", str(folder / "w.duckdb"), "run"]
        )
    assert code == 0
    return folder


def query(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_stage_conversion_recovers_the_simulators_true_rates(sample_run: Path) -> None:
    truth = json.loads((SAMPLE_DIR / "truth.json").read_text())["true_stage_metrics"]
    rows = query(
        sample_run,
        "select stage, advanced, lost_here, conversion_rate from mart_stage_conversion",
    )
    assert {r[0] for r in rows} == set(truth)
    for stage, advanced, lost_here, estimate in rows:
        true_rate = truth[stage]["true_conversion_rate"]
        resolved = advanced + lost_here
        # Each resolved deal is one Bernoulli trial of "advances", so the estimate's standard error
        # is sqrt(p(1-p)/n). Four standard errors leave a false alarm chance of ~6e-5 per stage;
        # deals still open at the end are censored, which biases the estimate by well under one SE.
        tolerance = 4 * math.sqrt(true_rate * (1 - true_rate) / resolved)
        assert abs(estimate - true_rate) < tolerance, (stage, estimate, true_rate, tolerance)


def test_worst_stage_has_the_lowest_conversion(sample_run: Path) -> None:
    worst = json.loads((SAMPLE_DIR / "truth.json").read_text())["worst_stage"]
    rows = query(sample_run, "select stage from mart_stage_conversion order by conversion_rate")
    assert rows[0][0] == worst


def test_report_kpis_equal_mart_kpis(sample_run: Path) -> None:
    html = (sample_run / "reports" / "latest.html").read_text(encoding="utf-8")
    shown = {
        name: float(value)
        for name, value in re.findall(r'data-kpi="([a-z_]+)"[^>]*data-value="([^"]+)"', html)
    }
    columns = ["open_deals", "open_pipeline_base", "win_rate", "avg_won_size"]
    columns += ["mean_cycle_days_won", "sales_velocity_per_day"]
    expected = dict(
        zip(
            columns,
            query(sample_run, f"select {', '.join(columns)} from mart_kpis")[0],
            strict=True,
        )
    )
    assert set(columns) <= set(shown)
    for name in columns:
        assert shown[name] == pytest.approx(expected[name], rel=1e-9), name
    dated = sorted((sample_run / "reports").glob("pipeline-report-*.html"))
    assert [p.name for p in dated] == ["pipeline-report-2026-10-31.html"]


def test_run_is_recorded_and_a_second_run_loads_nothing(sample_run: Path) -> None:
    before = query(sample_run, "select count(*) from deals")[0][0]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sample_run)
        args = ["--config", str(SAMPLE_DIR / "pipeline.toml"), "--db", str(sample_run / "w.duckdb")]
        assert main([*args, "run"]) == 0
    assert query(sample_run, "select count(*) from deals")[0][0] == before == 4000
    runs = query(sample_run, "select command, status, files_loaded from runs order by run_id")
    assert [r[:2] for r in runs] == [("run", "succeeded"), ("run", "succeeded")]
    assert runs[1][2] == 0
