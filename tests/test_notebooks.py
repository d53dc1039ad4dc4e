"""The analyst notebooks run from top to bottom against the sample warehouse, unedited.

Each notebook is executed with nbclient on the Python kernel of this environment, with one extra
cell appended that checks its results against the warehouse (the committed files stay clean).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

nbclient = pytest.importorskip(
    "nbclient", reason="nbclient is not installed: pip install -e '.[dev]'"
)
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = REPO / "notebooks"


def execute(name: str, checks: str, env_db: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{name} is committed with outputs; clear them"
    )
    notebook.cells.append(nbformat.v4.new_code_cell(checks))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIPELINE_ANALYTICS_DB", str(env_db))
        mp.setenv("TMPDIR", str(env_db.parent))  # where a notebook builds its own sample
        client = nbclient.NotebookClient(
            notebook,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        client.execute()  # raises CellExecutionError, with the cell and traceback, on any error


def test_explore_notebook_builds_the_sample_when_there_is_no_warehouse(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-warehouse.duckdb"
    execute(
        "01_explore_warehouse.ipynb",
        f"""
assert DB != Path({str(missing)!r}) and DB.parent.name.startswith("pipeline-analytics-")
marts = set(con.sql("select table_name from duckdb_tables()").df().table_name)
assert {{"mart_kpis", "mart_stage_conversion", "mart_rep_performance"}} <= marts
assert funnel.reached.iloc[0] == con.sql("select count(*) from deals").fetchall()[0][0]
""",
        missing,
    )


def test_forecast_notebook_explains_the_latest_run(sample_warehouse: Path) -> None:
    execute(
        "02_forecast_deep_dive.ipynb",
        f"""
assert DB == Path({str(sample_warehouse)!r})
total = con.execute(
    "select sum(expected_value_base) from forecast_deals where run_id = ?", [RUN_ID]
).fetchall()[0][0]
assert abs(contributions.share.sum() - 1) < 1e-9
assert abs(contributions.expected_value_base.sum() - total) < 1e-6 * total
# The what-if, recomputed deal by deal: a deal's expected value scales with its probability.
won_able = contributions[contributions.win_probability > 0]
for points in (-0.10, 0.0, 0.10):
    expected = (
        won_able.expected_value_base
        * (won_able.win_probability + points).clip(0, 1)
        / won_able.win_probability
    ).sum()
    row = what_if[abs(what_if.points - points) < 1e-9]
    assert abs(row.expected_bookings.iloc[0] - expected) < 1e-6 * expected, points
assert abs(what_if[what_if.points == 0].change_vs_today.iloc[0]) < 1e-12
""",
        sample_warehouse,
    )


def test_the_package_opens_a_warehouse_inside_a_notebook_kernel(tmp_path: Path) -> None:
    # Inside Jupyter, DuckDB refuses to change its progress-bar setting without ipywidgets.
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from pathlib import Path\n"
            "from pipeline_analytics.warehouse import connect\n"
            f"con = connect(Path({str(tmp_path / 'w.duckdb')!r}))\n"
            "assert con.execute('select count(*) from deals').fetchall() == [(0,)]"
        )
    ]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
