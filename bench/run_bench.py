"""`make bench`: time each step of the job at growing sizes, against DuckDB's own floor.

For each size the simulator writes a scaled export (cached under bench/data/) in the generic format
and as a Salesforce Data Export, then every step runs as its own process -- ingest, build,
forecast, report, and the whole `run` on a fresh warehouse, plus the ingest of the Salesforce
export -- several times; the median wall time and the peak RSS of each are recorded. The floor of
each format is a bare DuckDB `create table as select * from read_csv(...)` of the same files into a
file database. Results go to bench/results.json and a table on stdout; docs/performance.md
explains them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
HISTORY_ROWS_PER_DEAL = 10  # a CRM history table also logs amount and close-date edits
SEED = 11
CLI = [sys.executable, "-m", "pipeline_analytics"]

CONFIG = """
[[sources]]
name = "crm"
adapter = "generic"
path = "deals.csv"
history = "stage_history.csv"
[sources.columns]
deal_id = "opportunity_id"
name = "opportunity_name"
account = "account"
owner = "sales_agent"
lead_source = "lead_source"
deal_type = "deal_type"
stage = "deal_stage"
amount = "close_value"
currency = "currency"
created_at = "engage_date"
closed_at = "close_date"
updated_at = "last_modified"
[sources.history_columns]
deal_id = "opportunity_id"
stage = "stage"
changed_at = "changed_at"
[sources.status]
won = ["Won"]
lost = ["Lost"]
[pipeline]
stages = ["Prospecting", "Qualification", "Discovery meeting", "Proposal", "Negotiation"]
currency = "USD"
[forecast]
seed = 1
# The backtest rebuilds the pipeline at 18 past month-ends: timed on its own, not inside `run`.
backtest_in_run = false
[report]
output_dir = "work/reports"
"""

SALESFORCE_CONFIG = """
[[sources]]
name = "salesforce"
adapter = "salesforce"
path = "salesforce"
[pipeline]
stages = ["Prospecting", "Qualification", "Discovery meeting", "Proposal", "Negotiation"]
currency = "USD"
"""
SALESFORCE_FILES = ("Opportunity.csv", "OpportunityHistory.csv", "OpportunityStage.csv")


def ensure_data(size: str) -> Path:
    """The export for a size, generated once by a child process (see `measure` on why)."""
    folder = DATA_DIR / size
    marker = folder / "complete.json"
    # Data cached by an older bench without the Salesforce export is written again.
    if not marker.is_file() or "salesforce_history_rows" not in json.loads(marker.read_text()):
        subprocess.run([sys.executable, __file__, "--generate", size], check=True)
    return folder


def generate(size: str) -> None:
    """Write the exports for a size: the simulator's deals plus edit rows in the history, and the
    same pipeline as a Salesforce Data Export (its history has Salesforce's own edit rows)."""
    from pipeline_analytics.sample.renderings import write_salesforce
    from pipeline_analytics.sample.simulator import TIMESTAMP_FORMAT, simulate

    folder = DATA_DIR / size
    marker = folder / "complete.json"
    folder.mkdir(parents=True, exist_ok=True)
    n_deals = SIZES[size]
    started = time.monotonic()
    pipeline = simulate(n_deals, SEED)
    pipeline.deals.write_csv(
        folder / "deals.csv", datetime_format=TIMESTAMP_FORMAT, float_precision=2
    )
    history = _with_edit_rows(pipeline.stage_history, n_deals)
    history.write_csv(folder / "stage_history.csv", datetime_format=TIMESTAMP_FORMAT)
    write_salesforce(pipeline, folder / "salesforce")
    marker.write_text(
        json.dumps(
            {
                "deals": n_deals,
                "history_rows": history.height,
                "salesforce_history_rows": _data_lines(folder / "salesforce" / SALESFORCE_FILES[1]),
                "seed": SEED,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


def _data_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def _with_edit_rows(history: pl.DataFrame, n_deals: int) -> pl.DataFrame:
    """Pad the stage history to ~10 rows per deal with same-stage rows between real changes.

    Salesforce's OpportunityHistory writes a row on every amount or close-date edit, so most rows of
    a real history repeat the current stage; ingest must collapse them into stints.
    """
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    stints = history.with_columns(
        pl.col("changed_at").shift(-1).over("opportunity_id").alias("next_at")
    ).filter(pl.col("next_at").is_not_null())
    extra_per_stint = max(0.0, (HISTORY_ROWS_PER_DEAL * n_deals - history.height) / stints.height)
    repeats = rng.poisson(extra_per_stint, stints.height)
    edits = stints.with_columns(pl.Series("n", repeats)).filter(pl.col("n") > 0)
    edits = edits.select(pl.all().repeat_by(pl.col("n")).explode())
    fraction = pl.Series(rng.uniform(0.0, 1.0, edits.height))
    edits = edits.with_columns(
        (pl.col("changed_at") + (pl.col("next_at") - pl.col("changed_at")) * fraction)
        .dt.truncate("1s")
        .alias("changed_at")
    )
    columns = ["opportunity_id", "stage", "changed_at"]
    return pl.concat([history.select(columns), edits.select(columns)]).sort(columns[0], columns[2])


def measure(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process.

    Linux carries a process's peak RSS across fork and exec, so this driver stays small (it never
    imports the data libraries; generation runs in a child) or every step would inherit its peak.
    """
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"bench: {' '.join(command)} failed in {cwd}:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def floor_command(db: Path, files: tuple[str, ...]) -> list[str]:
    """DuckDB alone: each file into its own table of a file database, types sniffed by DuckDB."""
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1])\n"
        "for i, f in enumerate(sys.argv[2:]):\n"
        "    con.execute(f\"create table t{i} as select * from read_csv('{f}')\")"
    )
    return [sys.executable, "-c", script, str(db), *files]


def bench_size(size: str, repetitions: int) -> dict[str, object]:
    folder = ensure_data(size)
    (folder / "pipeline.toml").write_text(CONFIG)
    (folder / "salesforce.toml").write_text(SALESFORCE_CONFIG)
    work = folder / "work"
    steps: dict[str, list[tuple[float, float]]] = {}

    def run(step: str, command: list[str], fresh: bool) -> None:
        if fresh:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
        steps.setdefault(step, []).append(measure(command, folder))

    db = work / "warehouse.duckdb"
    base = [*CLI, "--quiet", "--config", "pipeline.toml", "--db", str(db)]
    salesforce = [*CLI, "--quiet", "--config", "salesforce.toml", "--db", str(db)]
    salesforce_files = tuple(f"salesforce/{name}" for name in SALESFORCE_FILES)
    for _ in range(repetitions):
        run("floor", floor_command(db, ("deals.csv", "stage_history.csv")), fresh=True)
        run("ingest", [*base, "ingest"], fresh=True)
        run("build", [*base, "build"], fresh=False)
        run("forecast", [*base, "forecast"], fresh=False)
        run("report", [*base, "report"], fresh=False)
        run("run", [*base, "run"], fresh=True)
        report_bytes = max(p.stat().st_size for p in (work / "reports").glob("*.html"))
        run("salesforce_floor", floor_command(db, salesforce_files), fresh=True)
        run("salesforce_ingest", [*salesforce, "ingest"], fresh=True)
    meta = json.loads((folder / "complete.json").read_text())
    result = {
        "deals": meta["deals"],
        "history_rows": meta["history_rows"],
        "salesforce_history_rows": meta["salesforce_history_rows"],
        "input_mb": round(
            sum((folder / f).stat().st_size for f in ("deals.csv", "stage_history.csv")) / 1e6, 1
        ),
        "salesforce_input_mb": round(
            sum((folder / "salesforce" / f).stat().st_size for f in SALESFORCE_FILES) / 1e6, 1
        ),
        "repetitions": repetitions,
        "report_bytes": report_bytes,
        "steps": {
            step: {
                "seconds": round(statistics.median(t for t, _ in samples), 2),
                "peak_rss_mb": round(max(m for _, m in samples)),
            }
            for step, samples in steps.items()
        },
    }
    seconds = {step: figures["seconds"] for step, figures in result["steps"].items()}
    result["ingest_to_floor"] = round(seconds["ingest"] / seconds["floor"], 2)
    result["salesforce_ingest_to_floor"] = round(
        seconds["salesforce_ingest"] / seconds["salesforce_floor"], 2
    )
    shutil.rmtree(work, ignore_errors=True)
    return result


def growth(results: dict[str, dict], step: str, key: str) -> dict[str, float]:
    """Fitted exponent b in cost ~ deals^b between consecutive sizes."""
    sizes = [s for s in SIZES if s in results]
    out = {}
    for small, large in zip(sizes, sizes[1:], strict=False):
        a, b = results[small], results[large]
        ratio = b["steps"][step][key] / a["steps"][step][key]
        out[f"{small}->{large}"] = round(math.log(ratio) / math.log(b["deals"] / a["deals"]), 2)
    return out


def print_table(results: dict[str, dict]) -> None:
    steps = ["floor", "ingest", "build", "forecast", "report", "run"]
    print(f"{'size':>6} {'history':>10} " + " ".join(f"{s:>16}" for s in steps) + "  ingest/floor")
    for size, r in results.items():
        cells = " ".join(
            f"{r['steps'][s]['seconds']:>7.2f}s {r['steps'][s]['peak_rss_mb']:>5}MB" for s in steps
        )
        print(f"{size:>6} {r['history_rows']:>10,} {cells}  {r['ingest_to_floor']:>6.2f}x")
    print("Salesforce export: floor, ingest, ingest/floor")
    for size, r in results.items():
        floor, ingest = r["steps"]["salesforce_floor"], r["steps"]["salesforce_ingest"]
        print(
            f"{size:>6} {r['salesforce_history_rows']:>10,} {floor['seconds']:>7.2f}s "
            f"{ingest['seconds']:>7.2f}s {ingest['peak_rss_mb']:>5}MB "
            f"{r['salesforce_ingest_to_floor']:>6.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10k,100k", help="comma-separated, from 10k,100k,1m (default 10k,100k)"
    )
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--generate", metavar="SIZE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise SystemExit(f"bench: unknown size(s) {unknown}; choose from {list(SIZES)}")
    results = {}
    for size in sizes:
        print(f"bench: {size} ...", file=sys.stderr, flush=True)
        results[size] = bench_size(size, args.repetitions if size != "1m" else 1)
    summary = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "sizes": results,
        "growth_exponent": {
            step: growth(results, step, "seconds")
            for step in ("ingest", "build", "run", "salesforce_ingest")
        },
        "memory_growth_exponent": {"run": growth(results, "run", "peak_rss_mb")},
    }
    (BENCH_DIR / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_table(results)
    print("growth exponents (time):", json.dumps(summary["growth_exponent"]))
    print("growth exponent (peak RSS of run):", json.dumps(summary["memory_growth_exponent"]))


if __name__ == "__main__":
    main()
