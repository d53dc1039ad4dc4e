"""Forecast engine benchmark: 100,000 open deals x 10,000 simulations x 12 months, and `forecast`
on the bundled sample.

    .venv/bin/python bench/forecast_bench.py [--deals 100000] [--simulations 10000] [--repeat 3]

The big case keeps the sample's history (its stints, created pipeline and bookings, so the
outcome model and the time series are real) and replaces the open pipeline with `--deals` open
deals drawn from the sample's own open deals, their ages spread by a random factor of 0.5-1.5 and
amounts log-normal, so they fall in many stage x age classes. It times the engine's computation
(outcome model, joint simulation, new pipeline, cash flow, cross-checks) without the SQL reads,
and the open-pipeline Monte Carlo alone. The sample case times the whole CLI `forecast` (process
start, imports, SQL, engine, storing) on a built copy of the sample warehouse.

Each measurement runs in its own process; the median wall and CPU times and the peak RSS are
printed (CPU time counts every thread, so it does not depend on what else the machine runs).
Targets (docs/forecasting.md): big case under 10 s on 2 cores and 1.5 GB; sample under 5 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPO / "data" / "sample" / "pipeline.toml"
CLI = [sys.executable, "-m", "pipeline_analytics", "--config", str(SAMPLE_CONFIG), "-q"]


def peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def big_case(db: Path, deals: int, simulations: int) -> dict[str, float]:
    """Runs in a child process: engine compute on `deals` synthetic open deals."""
    import duckdb
    import numpy as np
    import polars as pl
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401 -- not part of the timing

    from pipeline_analytics.config import load_config
    from pipeline_analytics.forecast.asof import build_as_of
    from pipeline_analytics.forecast.calendar import month_grid
    from pipeline_analytics.forecast.cashflow import CashGroups
    from pipeline_analytics.forecast.engine import EngineSettings, compute, load_inputs
    from pipeline_analytics.forecast.outcomes import outcome_model
    from pipeline_analytics.forecast.simulation import OpenDeals, simulate_open_deals

    config = load_config(SAMPLE_CONFIG)
    con = duckdb.connect(str(db), read_only=True)
    as_of = build_as_of(con)
    grid = month_grid(as_of, 12)
    groups = CashGroups.from_settings(config.cashflow)
    inputs = load_inputs(con, as_of, grid, groups.longest_tail())
    con.close()
    rng = np.random.default_rng(0)
    sample = inputs.open_deals.sample(deals, with_replacement=True, seed=1)
    open_deals = sample.with_columns(
        deal_id=pl.Series([f"B{i:07d}" for i in range(deals)]),
        stage_age_days=pl.col("stage_age_days") * pl.Series(rng.uniform(0.5, 1.5, deals)),
        amount_base=pl.Series(22_000 * rng.lognormal(0.0, 0.8, deals)),
        deal_type=pl.Series(rng.choice(["New Business", "Expansion", "Renewal"], deals)),
    )
    inputs = type(inputs)(**{**inputs.__dict__, "open_deals": open_deals})
    settings = EngineSettings(12, simulations, 7, config.cashflow)

    started, cpu = time.perf_counter(), time.process_time()
    model = outcome_model(open_deals, inputs.outcome_history(12), grid.end_days, np.full(deals, -1))
    simulate_open_deals(
        OpenDeals(
            open_deals["amount_base"].to_numpy(),
            model.deal_class,
            groups.of(open_deals["deal_type"].to_list()),
        ),
        model.cumulative,
        len(groups.names),
        simulations,
        7,
    )
    open_only, open_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    compute(inputs, grid, groups, settings)
    engine, engine_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "open_pipeline_seconds": open_only,
        "open_pipeline_cpu_seconds": open_cpu,
        "engine_seconds": engine,
        "engine_cpu_seconds": engine_cpu,
        "classes": int(model.cumulative.shape[0]),
    }


def child(args: list[str]) -> dict[str, float]:
    """Run this script's --child mode in a fresh process and read its JSON line."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def sample_forecast(db: Path) -> dict[str, float]:
    """Whole CLI `forecast` on the sample warehouse, as a user runs it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([*CLI, "--db", str(db), "forecast"], check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": round(after.ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("DB", "DEALS", "SIMULATIONS"))
    args = parser.parse_args()
    if args.child:
        db, deals, simulations = args.child
        result = big_case(Path(db), int(deals), int(simulations))
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
        return

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sample.duckdb"
        for step in ("ingest", "build"):
            subprocess.run([*CLI, "--db", str(db), step], check=True)
        # The sample forecast first: RUSAGE_CHILDREN keeps the largest child's peak.
        sample = [sample_forecast(db) for _ in range(args.repeat)]
        big = [child([str(db), str(args.deals), str(args.simulations)]) for _ in range(args.repeat)]
    report = {
        "big_case": {
            "deals": args.deals,
            "simulations": args.simulations,
            "months": 12,
            "outcome_classes": big[0]["classes"],
            "open_pipeline_seconds": round(
                statistics.median(b["open_pipeline_seconds"] for b in big), 2
            ),
            "open_pipeline_cpu_seconds": round(
                statistics.median(b["open_pipeline_cpu_seconds"] for b in big), 2
            ),
            "engine_seconds": round(statistics.median(b["engine_seconds"] for b in big), 2),
            "engine_cpu_seconds": round(statistics.median(b["engine_cpu_seconds"] for b in big), 2),
            "peak_rss_mb": max(b["peak_rss_mb"] for b in big),
        },
        "sample_forecast": {
            "seconds": round(statistics.median(s["seconds"] for s in sample), 2),
            "cpu_seconds": round(statistics.median(s["cpu_seconds"] for s in sample), 2),
            "peak_rss_mb": max(s["peak_rss_mb"] for s in sample),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
