"""The marts on the bundled sample, against what the simulator put in, and docs/metrics.md against
the warehouse schema.

The sample is built once for the module, with a lookback covering its whole three years so that
each rep's win rate rests on all of the rep's resolved deals.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline_analytics.build import build
from pipeline_analytics.cli import main
from pipeline_analytics.warehouse import connect
from tests.conftest import REPO, SAMPLE_DIR

WHOLE_HISTORY_DAYS = 1200
METRICS_DOC = REPO / "docs" / "metrics.md"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("sample") / "w.duckdb"
    assert (
        main(["-q", "--config", str(SAMPLE_DIR / "pipeline.toml"), "--db", str(db), "ingest"]) == 0
    )
    con = connect(db)
    build(con, lookback_days=WHOLE_HISTORY_DAYS, currency="USD")
    yield con
    con.close()


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE_DIR / "truth.json").read_text(encoding="utf-8"))


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation along the last axis (no ties in continuous rates)."""
    ranks_a = np.argsort(np.argsort(a, axis=-1), axis=-1).astype(float)
    ranks_b = np.argsort(np.argsort(b, axis=-1), axis=-1).astype(float)
    ranks_a -= ranks_a.mean(axis=-1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=-1, keepdims=True)
    return (ranks_a * ranks_b).sum(-1) / np.sqrt((ranks_a**2).sum(-1) * (ranks_b**2).sum(-1))


@pytest.mark.slow
def test_rep_win_rates_recover_the_simulated_skill_ordering(sample, truth):
    reps = sample.execute("select owner, win_rate from mart_rep_performance").fetchall()
    measured = np.array([rate for _, rate in reps])
    true = np.array([truth["reps"][owner]["true_win_rate"] for owner, _ in reps])
    rho = float(spearman(measured, true))
    # Threshold: the rank correlation a random ordering of the 10 reps beats only 1% of the time
    # (the 99th percentile over random permutations, about 0.72). Sampling noise alone, with the
    # reps' 210-645 resolved deals each, would leave rho above it in over 90% of samples.
    rng = np.random.default_rng(0)
    shuffled = np.array([rng.permutation(true) for _ in range(20_000)])
    chance = float(np.quantile(spearman(shuffled, np.broadcast_to(true, shuffled.shape)), 0.99))
    assert rho > chance, (rho, chance)
    assert len(reps) == len(truth["reps"])


@pytest.mark.slow
def test_the_simulators_worst_stage_ranks_first(sample, truth):
    ranked = sample.execute(
        "select stage from mart_bottlenecks where pipeline = 'default' order by rank"
    ).fetchall()
    assert ranked[0] == (truth["worst_stage"],)
    assert len(ranked) == len(truth["stages"])


@pytest.mark.slow
def test_touchpoints_match_the_activities_file(sample):
    """Activities per won, lost and open deal, counted independently from the sample's CSVs."""
    deals = pl.read_csv(SAMPLE_DIR / "deals.csv", try_parse_dates=True)
    as_of = sample.execute("select as_of from build_params").fetchall()[0][0]
    closed = pl.col("deal_stage").is_in(["Won", "Lost"])
    cutoff = pl.when(closed).then(pl.col("last_modified")).otherwise(pl.lit(as_of))
    per_deal = (
        pl.read_csv(SAMPLE_DIR / "activities.csv", try_parse_dates=True)
        .unique()  # an activity repeated exactly is stored once
        .join(deals.select("opportunity_id", cutoff.alias("cutoff")), on="opportunity_id")
        .filter(pl.col("completed_at") <= pl.col("cutoff"))
        .group_by("opportunity_id")
        .len("activities")
    )
    expected = (
        deals.join(per_deal, on="opportunity_id", how="left")
        .with_columns(
            status=pl.when(pl.col("deal_stage") == "Won")
            .then(pl.lit("won"))
            .when(pl.col("deal_stage") == "Lost")
            .then(pl.lit("lost"))
            .otherwise(pl.lit("open")),
            activities=pl.col("activities").fill_null(0),
        )
        .group_by("status")
        .agg(
            pl.len().alias("deals"),
            pl.col("activities").sum().alias("total"),
            pl.col("activities").median().alias("median"),
        )
    )
    touchpoints = {
        status: rest
        for status, *rest in sample.execute(
            "select status, deals, activities, median_activities from mart_touchpoints"
        ).fetchall()
    }
    assert touchpoints == {status: rest for status, *rest in expected.iter_rows()}
    # Won deals pass every stage, so they take more touches than lost ones.
    assert touchpoints["won"][2] > touchpoints["lost"][2]


# --- docs/metrics.md against the warehouse ----------------------------------------------------

TABLE_HEADING = re.compile(r"^#### `(\w+)`\s*$")
COLUMN_ROW = re.compile(r"^\| `(\w+)` \| ([A-Z0-9(),\[\] ]+) \| .+\|$")


def documented_tables(text: str) -> dict[str, list[tuple[str, str]]]:
    """Table name -> [(column, type)] from every '#### `table`' section's column table."""
    tables: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        if heading := TABLE_HEADING.match(line):
            current = heading.group(1)
            tables[current] = []
        elif line.startswith("#"):
            current = None
        elif current is not None and (row := COLUMN_ROW.match(line)):
            tables[current].append((row.group(1), row.group(2).strip()))
    return tables


@pytest.mark.slow
def test_metrics_doc_describes_every_table_and_column(sample):
    warehouse: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in sample.execute(
        """
        select table_name, column_name, data_type from information_schema.columns
        where table_schema = 'main' order by table_name, ordinal_position
        """
    ).fetchall():
        warehouse.setdefault(table, []).append((column, data_type))
    documented = documented_tables(METRICS_DOC.read_text(encoding="utf-8"))
    undocumented = sorted(set(warehouse) - set(documented))
    assert not undocumented, f"tables missing from docs/metrics.md: {undocumented}"
    stale = sorted(set(documented) - set(warehouse))
    assert not stale, f"docs/metrics.md documents tables the warehouse does not have: {stale}"
    for table, columns in warehouse.items():
        assert documented[table] == columns, (
            f"docs/metrics.md, table {table}: documented columns (name, type) differ from the "
            f"warehouse; missing {sorted(set(columns) - set(documented[table]))}, "
            f"not in the warehouse {sorted(set(documented[table]) - set(columns))}"
        )


def test_the_doc_parser_reads_a_table_section():
    text = (
        "#### `t`\n\nGrain.\n\n| column | type | meaning |\n|---|---|---|\n"
        "| `a` | DECIMAL(38,2) | x |\n| `b` | VARCHAR[] | y |\n\n### Next\n| `c` | INTEGER | z |\n"
    )
    assert documented_tables(text) == {"t": [("a", "DECIMAL(38,2)"), ("b", "VARCHAR[]")]}


@pytest.mark.slow
def test_sample_as_of_is_the_last_simulated_event(sample, truth):
    as_of = sample.execute("select as_of from build_params").fetchall()[0][0]
    assert as_of <= datetime.fromisoformat(truth["last_possible_event"])
