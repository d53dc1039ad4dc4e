"""Each CRM rendering of the sample gives the marts of the generic export, up to what it can carry.

The renderings in data/sample/ (1000 deals, seed 7) load with their configs (adapter + path only)
and are compared with the same simulated pipeline written as the generic export:
- Salesforce's CloseDate is a date, so it is compared with a generic export whose close times are
  cut to the day; then every mart below is equal.
- HubSpot keeps only the latest stint per stage: funnel and KPIs are equal; stage events are equal
  for deals that never went back to a stage, and hold only the latest stint otherwise.
- Pipedrive (with its deal flow) is equal everywhere; its stage names are Italian, so stages are
  matched by their order.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.sample.renderings import RENDERINGS, write_rendering
from pipeline_analytics.sample.simulator import simulate, write_sample
from tests.conftest import REPO, SAMPLE_DIR

N_DEALS, SEED = 1000, 7
AS_OF = "2026-10-31T23:59:59"
KPIS = (
    "open_deals, open_pipeline_base, won_deals, lost_deals, win_rate, win_rate_amount, "
    "avg_won_size, median_won_size, mean_cycle_days_won, median_cycle_days_won"
)
CONVERSION = (
    "stage_order, reached, advanced, lost_here, open_here, won_deals, lost_deals, "
    "conversion_rate, win_rate_from_stage"
)
DURATION = "stage_order, deals, mean_days, median_days, p90_days"


def _rounded(rows: list[tuple]) -> list[tuple]:
    """Floats to 9 decimals: sums over the same values in another order differ in the last bits."""
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]


def _build(config: Path, db: Path) -> dict[str, list[tuple]]:
    args = ["--config", str(config), "--db", str(db)]
    assert main([*args, "ingest"]) == 0
    assert main([*args, "build", "--as-of", AS_OF]) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "kpis": _rounded(con.execute(f"select {KPIS} from mart_kpis").fetchall()),
            "conversion": _rounded(
                con.execute(
                    f"select {CONVERSION} from mart_stage_conversion order by stage_order"
                ).fetchall()
            ),
            "duration": _rounded(
                con.execute(
                    f"select {DURATION} from mart_stage_duration "
                    "where stage_order is not null order by stage_order"
                ).fetchall()
            ),
            # (deal number, stage order, entered, exited) of open-stage stints
            "events": con.execute(
                "select regexp_extract(deal_id, '([0-9]+)[A-Z]*$', 1)::bigint % 100000, "
                "stage_order, "
                "entered_at, exited_at from deal_stage_events "
                "where stage_order is not null order by all"
            ).fetchall(),
        }
    finally:
        con.close()


def _generic_export(folder: Path, close_dates_as_days: bool) -> Path:
    write_sample(folder, N_DEALS, SEED)
    config = (SAMPLE_DIR / "pipeline.toml").read_text().replace('activities = "activities.csv"', "")
    if close_dates_as_days:
        deals = pl.read_csv(folder / "deals.csv", infer_schema=False)
        closed = pl.col("deal_stage").is_in(["Won", "Lost"])
        deals.with_columns(
            pl.when(closed).then(pl.col("close_date").str.slice(0, 10)).otherwise("close_date")
        ).write_csv(folder / "deals.csv")
    (folder / "pipeline.toml").write_text(config)
    return folder / "pipeline.toml"


@pytest.fixture(scope="module")
def generic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    folder = tmp_path_factory.mktemp("generic")
    return _build(_generic_export(folder, close_dates_as_days=False), folder / "w.duckdb")


def _rendering(name: str, tmp_path: Path) -> dict[str, list[tuple]]:
    config = SAMPLE_DIR / f"{name}.toml"
    return _build(config, tmp_path / "w.duckdb")


@pytest.mark.slow
def test_salesforce_rendering_equals_generic_with_day_close_dates(tmp_path: Path) -> None:
    reference = _build(
        _generic_export(tmp_path / "generic", close_dates_as_days=True), tmp_path / "g.duckdb"
    )
    assert _rendering("salesforce", tmp_path) == reference


@pytest.mark.slow
def test_pipedrive_rendering_equals_generic(
    tmp_path: Path, generic: dict[str, list[tuple]]
) -> None:
    assert _rendering("pipedrive_it", tmp_path) == generic


@pytest.mark.slow
def test_hubspot_rendering_keeps_only_the_latest_stint_per_stage(
    tmp_path: Path, generic: dict[str, list[tuple]]
) -> None:
    hubspot = _rendering("hubspot", tmp_path)
    assert hubspot["kpis"] == generic["kpis"]
    assert hubspot["conversion"] == generic["conversion"]
    stints = pl.DataFrame(
        generic["events"], schema=["deal", "stage", "entered", "exited"], orient="row"
    )
    repeated = stints.filter(pl.len().over("deal", "stage") > 1)["deal"].unique()
    assert repeated.len() > 0  # the sample has deals that went back to a stage
    latest = (
        stints.sort("entered")
        .group_by("deal", "stage", maintain_order=True)
        .last()
        .filter(pl.col("deal").is_in(repeated.to_list()))
    )
    hubspot_stints = pl.DataFrame(
        hubspot["events"], schema=["deal", "stage", "entered", "exited"], orient="row"
    )
    # Deals that never went back: the same stints. Others: one stint per stage, entered when
    # the generic history last entered it.
    assert hubspot_stints.filter(~pl.col("deal").is_in(repeated.to_list())).rows() == (
        stints.filter(~pl.col("deal").is_in(repeated.to_list())).rows()
    )
    assert sorted(
        hubspot_stints.filter(pl.col("deal").is_in(repeated.to_list()))
        .select("deal", "stage", "entered")
        .rows()
    ) == sorted(latest.select("deal", "stage", "entered").rows())


def test_bundled_renderings_are_what_the_renderer_writes(tmp_path: Path) -> None:
    # Byte-exact holds on any machine: the simulator floors its times to the second and rounds its
    # amounts to the cent far from any boundary (see test_simulator), and the renderer only adds,
    # scales and formats those values with fixed precision.
    pipeline = simulate(N_DEALS, SEED)
    for name in RENDERINGS:
        for path in write_rendering(name, pipeline, tmp_path):
            bundled = SAMPLE_DIR / name / path.name
            assert bundled.read_bytes() == path.read_bytes(), (
                f"{bundled.relative_to(REPO)} is stale: run `make sample`"
            )
