"""The wheel installs anywhere: built from the repository's files, installed into a new venv, it
holds every module and data file the package reads, and runs the sample's whole job (ingest, build,
forecast, report) from a folder outside the repository.

Kept fast: the new venv gets no pip and no dependencies of its own. The wheel is installed with
--no-deps by this venv's pip, and a .pth file lets the new venv import this venv's packages. That
venv also holds the editable install of the repository, so the test proves the job imports
pipeline_analytics from the new venv.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FILES = ("deals.csv", "stage_history.csv", "activities.csv", "pipeline.toml")


def run(args: list[str | Path], cwd: Path) -> str:
    # No PYTHONPATH: nothing may lead the new venv back to the repository.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built from a copy of what the build reads, so the repository gets no build/."""
    source = tmp_path / "source"
    for folder in ("pipeline_analytics", "sql"):
        shutil.copytree(
            REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", "dist", "."],
        source,
    )
    (wheel,) = (source / "dist").glob("pipeline_analytics-*.whl")
    return wheel


def expected_files() -> set[str]:
    """Every module and data file of the package, and every SQL file as package data."""
    package = REPO / "pipeline_analytics"
    files = {
        f"pipeline_analytics/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    sql = {
        f"pipeline_analytics/sql/{p.relative_to(REPO / 'sql').as_posix()}"
        for p in (REPO / "sql").rglob("*.sql")
    }
    return files | sql


def new_venv(tmp_path: Path, wheel: Path) -> Path:
    """A venv holding only the wheel, seeing this venv's packages through a .pth file."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "--python", python]
    run([*pip, "install", "--no-deps", "--no-index", wheel], tmp_path)
    purelib = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
    )
    (Path(purelib.strip()) / "current_venv.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n"
    )
    return venv


def test_the_wheel_installs_and_runs_the_sample_job_outside_the_repository(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "pipeline_analytics/sql/mart_kpis.sql",
        "pipeline_analytics/sql/schema/deals.sql",
    } <= shipped
    assert not (missing := sorted(expected_files() - shipped)), f"not in the wheel: {missing}"

    venv = new_venv(tmp_path, wheel)
    job = tmp_path / "job"
    job.mkdir()
    for name in SAMPLE_FILES:
        shutil.copy(REPO / "data" / "sample" / name, job / name)
    config = job / "pipeline.toml"
    # Fewer simulations than the sample's 10,000: the test is about the install, not the figures.
    config.write_text(config.read_text().replace("simulations = 10000", "simulations = 200"))

    where = run(
        [
            venv / "bin" / "python",
            "-c",
            "import pipeline_analytics, pipeline_analytics.sql_files as s; "
            "print(pipeline_analytics.__file__); print(s.SQL_DIR)",
        ],
        job,
    ).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    cli = venv / "bin" / "pipeline-analytics"
    for step in ("ingest", "build", "forecast", "report"):
        run([cli, "-q", "--config", config, "--db", job / "w.duckdb", step], job)

    assert "<html" in (job / "reports" / "latest.html").read_text(encoding="utf-8").lower()
    con = duckdb.connect(str(job / "w.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from mart_stage_conversion").fetchall()[0][0] > 0
        assert con.execute("select count(*) from forecast_bookings").fetchall()[0][0] > 0
    finally:
        con.close()
