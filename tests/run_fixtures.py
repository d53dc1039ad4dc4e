"""Nightly exports for the scheduled-run tests: dated snapshots of one simulated pipeline.

One simulated pipeline (300 deals over a year) is cut at successive moments; the export taken at a
cut holds every deal created by then in its stage at that moment, and the stage history so far. The
expected counts come from these frames, never from the warehouse.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from pipeline_analytics.sample.simulator import OPEN_STAGES, TIMESTAMP_FORMAT, simulate
from tests.conftest import write

CONFIG = f"""
[[sources]]
name = "crm"
adapter = "generic"
path = "exports/deals-*.csv"
history = "exports/history-*.csv"

[sources.columns]
deal_id = "opportunity_id"
owner = "sales_agent"
lead_source = "lead_source"
stage = "deal_stage"
amount = "close_value"
currency = "currency"
created_at = "engage_date"
closed_at = "close_date"
updated_at = "last_modified"

[sources.history_columns]
deal_id = "opportunity_id"

[sources.status]
won = ["Won"]
lost = ["Lost"]

[pipeline]
stages = {list(OPEN_STAGES)}
currency = "USD"

[forecast]
seed = 1          # the same numbers on every run, so a rerun can equal an uninterrupted run
simulations = 200  # the minimum allowed: plenty for these checks, and fast
backtest_in_run = false  # scoring 18 origins each night would dominate these tests

[report]
output_dir = "reports"
"""


@dataclass(frozen=True)
class Export:
    """What one nightly export holds, counted from the simulator's frames."""

    deals_file: Path
    history_file: Path
    deals: pl.DataFrame
    history: pl.DataFrame

    @property
    def snapshot_at(self) -> datetime:
        """The latest event in the export, which ingest takes as its snapshot time."""
        return self.history["changed_at"].max()


@cache
def simulated() -> tuple[pl.DataFrame, pl.DataFrame]:
    pipeline = simulate(300, seed=5, end=date(2026, 10, 31), years=1.0)
    return pipeline.deals, pipeline.stage_history


def export_at(cut: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The CRM as an export taken at `cut` would show it."""
    deals, history = simulated()
    history = history.filter(pl.col("changed_at") <= cut)
    current = history.group_by("opportunity_id", maintain_order=True).agg(
        pl.col("stage").last().alias("deal_stage"),
        pl.col("changed_at").last().alias("last_modified"),
    )
    # An open deal has no close date yet; a closed one closed at its last change.
    closed_at = pl.col("last_modified").dt.strftime(TIMESTAMP_FORMAT)
    deals = (
        deals.drop("deal_stage", "close_date", "last_modified")
        .join(current, on="opportunity_id")
        .with_columns(
            close_date=pl.when(pl.col("deal_stage").is_in(OPEN_STAGES))
            .then(None)
            .otherwise(closed_at)
        )
        .select(deals.columns)
    )
    return deals, history


def write_export(folder: Path, cut: datetime) -> Export:
    deals, history = export_at(cut)
    exports = folder / "exports"
    exports.mkdir(exist_ok=True)
    deals_file = exports / f"deals-{cut:%Y-%m-%dT%H%M}.csv"
    history_file = exports / f"history-{cut:%Y-%m-%dT%H%M}.csv"
    deals.write_csv(deals_file, datetime_format=TIMESTAMP_FORMAT)
    history.write_csv(history_file, datetime_format=TIMESTAMP_FORMAT)
    return Export(deals_file, history_file, deals, history)


def new_folder(folder: Path, run_section: str = "") -> Path:
    """A folder with the config (p.toml, for conftest.run_cli) and an empty exports/ folder."""
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "p.toml", CONFIG + (f"\n[run]\n{run_section}\n" if run_section else ""))
    (folder / "exports").mkdir(exist_ok=True)
    return folder


def copy_folder(source: Path, target: Path) -> Path:
    """A copy of a test folder, warehouse included (no process may have it open)."""
    shutil.copytree(source, target)
    return target


def harness(folder: Path, point: str, action: str, *cli_args: str) -> list[str]:
    """Command line of a CLI run on `folder` that dies or stops at `point` (tests.kill_harness)."""
    return [
        sys.executable,
        "-m",
        "tests.kill_harness",
        point,
        action,
        "--config",
        str(folder / "p.toml"),
        "--db",
        str(folder / "w.duckdb"),
        *cli_args,
    ]


def query(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
