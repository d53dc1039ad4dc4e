"""`make bench`: time each step of the job at growing sizes, against DuckDB's own floor.

For each size the simulator writes a scaled export (cached under bench/data/) in the generic format
and as a Salesforce Data Export, then every step runs as its own process -- ingest, build,
forecast, report, and the whole `run` on a fresh warehouse, plus the ingest of the Salesforce
export -- several times; the median wall time, CPU time and peak RSS of each are recorded. The
floor of each format is a bare DuckDB `create table as select * from read_csv(...)` of the same
files into a file database. Among the repeated steps, a pandas notebook (bench/pandas_notebook.py)
computes mart_kpis's headline KPIs, stage conversion and time in stage from the two CSVs, and its
figures are checked against the marts of a warehouse built from the same files. Then, once, the
default `run` with the backtest on a fresh warehouse, and the weekly scenario: `run` on the export
as it stood a week before its end, then `run` again with the full export in its place (the second
run's backtest seconds and the origins it forecast come from its JSON log). The ratios of issue
18's targets (run/pandas, ingest/floor, (ingest+build)/pandas) are recorded and printed.

The 10m size (10M deals, ~100M history rows) is simulated in 1M-deal chunks, generic export only,
and each step runs once on one warehouse (the whole `run` is reported as the sum of its steps);
then `build --engine spark` runs in local mode on that warehouse (`--spark` adds it at any size).
Spark's JVM is a child its launcher never waits for, so its memory and CPU are sampled from /proc
over the whole process tree. `--spark-mode models` runs the Spark build model by model instead,
with each model's shuffle bytes from Spark's status API.

Results go to bench/results.json (a size not run keeps its last figures, each with its date, the
load average and the free memory) and a table on stdout; docs/performance.md explains them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
HISTORY_ROWS_PER_DEAL = 10  # a CRM history table also logs amount and close-date edits
SEED = 11
# Larger sizes are simulated in chunks of this many deals (about 4 GB of RAM each; the whole 10M at
# once would need about 40 GB): chunk k has seed SEED + k and the ids after chunk k-1's, so chunk 0
# is the 1M export with wider ids. Each chunk is a full pipeline over the same three years.
CHUNK_DEALS = 1_000_000
# Sizes where each step runs once, on one warehouse, with no Salesforce export (see bench_size).
SINGLE_PASS = {"10m"}
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

# The default `run`, backtest included (`[forecast] backtest_in_run` left at its default, true).
BACKTEST_CONFIG = re.sub(r"# The backtest .*\nbacktest_in_run = false\n", "", CONFIG)
# The same, reading the files of the weekly scenario (see `write_weekly`).
WEEKLY_CONFIG = BACKTEST_CONFIG.replace(
    'path = "deals.csv"', 'path = "weekly/export/deals.csv"'
).replace('history = "stage_history.csv"', 'history = "weekly/export/stage_history.csv"')
EXPORT_FILES = ("deals.csv", "stage_history.csv")
WEEK_DAYS = 7  # the export of the weekly scenario's first run stood this many days before the end
PANDAS_NOTEBOOK = BENCH_DIR / "pandas_notebook.py"

SALESFORCE_CONFIG = """
[[sources]]
name = "salesforce"
adapter = "salesforce"
path = "salesforce"
[pipeline]
stages = ["Prospecting", "Qualification", "Discovery meeting", "Proposal", "Negotiation"]
currency = "USD"
"""
# --sql-dir: the model files the model-by-model Spark build runs, if not the checkout's.
SQL_DIR_OVERRIDE = ""
# --spark-budget: seconds after which the model-by-model Spark build starts no other model.
SPARK_BUDGET = 0.0
# Appended to CONFIG for `build --engine spark`; paths are absolute (Spark resolves them itself).
SPARK_CONFIG = """
[spark]
master = "local[*]"
staging = "{staging}"
[spark.conf]
"spark.driver.memory" = "{driver_memory}"
"spark.local.dir" = "{local_dir}"
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
    if n_deals > CHUNK_DEALS:
        generate_chunked(folder, n_deals)
        return
    pipeline = simulate(n_deals, SEED)
    pipeline.deals.write_csv(
        folder / "deals.csv", datetime_format=TIMESTAMP_FORMAT, float_precision=2
    )
    history = _with_edit_rows(pipeline.stage_history, n_deals, SEED)
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


def generate_chunked(folder: Path, n_deals: int) -> None:
    """The generic export only, CHUNK_DEALS deals at a time, each chunk's rows appended to the two
    files (a Salesforce export of this size is not written: its ingest is benchmarked up to 1M)."""
    import polars as pl

    from pipeline_analytics.sample.simulator import TIMESTAMP_FORMAT, simulate

    started = time.monotonic()
    width = max(6, len(str(n_deals)))  # as the simulator pads ids
    history_rows = 0
    with (
        (folder / "deals.csv").open("wb") as deals,
        (folder / "stage_history.csv").open("wb") as hist,
    ):
        for k in range(math.ceil(n_deals / CHUNK_DEALS)):
            offset = k * CHUNK_DEALS
            count = min(CHUNK_DEALS, n_deals - offset)
            pipeline = simulate(count, SEED + k)
            renumber = (
                pl.lit("OPP-")
                + (pl.col("opportunity_id").str.slice(4).cast(pl.Int64) + offset)
                .cast(pl.String)
                .str.zfill(width)
            ).alias("opportunity_id")
            pipeline.deals.with_columns(renumber).write_csv(
                deals, include_header=k == 0, datetime_format=TIMESTAMP_FORMAT, float_precision=2
            )
            history = _with_edit_rows(pipeline.stage_history, count, SEED + k)
            history.with_columns(renumber).write_csv(
                hist, include_header=k == 0, datetime_format=TIMESTAMP_FORMAT
            )
            history_rows += history.height
            del pipeline, history
            print(f"bench: {size_name(n_deals)} chunk {k} written", file=sys.stderr, flush=True)
    (folder / "complete.json").write_text(
        json.dumps(
            {
                "deals": n_deals,
                "history_rows": history_rows,
                "salesforce_history_rows": None,
                "seed": SEED,
                "chunk_deals": CHUNK_DEALS,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


def ensure_weekly(size: str) -> Path:
    """The weekly scenario's earlier export of a size (bench/data/<size>/weekly/cut/), written once
    by a child process; returns its folder."""
    cut = DATA_DIR / size / "weekly" / "cut"
    marker = cut / "complete.json"
    # Written again if the export was generated again since, or the week changed.
    source = json.loads((DATA_DIR / size / "complete.json").read_text())
    meta = json.loads(marker.read_text()) if marker.is_file() else {}
    if meta.get("source") != source or meta.get("days") != WEEK_DAYS:
        subprocess.run([sys.executable, __file__, "--weekly", size], check=True)
    return cut


def write_weekly(size: str) -> None:
    """The generic export of a size as it stood WEEK_DAYS days before its end (its latest event):
    deals created later dropped, history rows later dropped, every deal in the stage its history
    had then (so a deal closed or moved later shows open in the stage it was in; a closed deal's
    close_date becomes its expected close day, as an open deal's is), last_modified not later
    (a deal modified later takes its last event by then). Every other field is copied as text."""
    import polars as pl

    folder = DATA_DIR / size
    cut_folder = folder / "weekly" / "cut"
    cut_folder.mkdir(parents=True, exist_ok=True)
    deals = pl.read_csv(folder / "deals.csv", infer_schema=False)
    history = pl.read_csv(folder / "stage_history.csv", infer_schema=False)
    end = max(deals["last_modified"].max(), history["changed_at"].max())
    cut = (datetime.fromisoformat(end) - timedelta(days=WEEK_DAYS)).strftime("%Y-%m-%d %H:%M:%S")
    # Timestamps are ISO text (a close day without a time sorts before that day's instants).
    history = history.filter(pl.col("changed_at") <= cut)
    last = history.group_by("opportunity_id").agg(
        pl.col("stage").sort_by("changed_at", maintain_order=True).last().alias("stage_then"),
        pl.col("changed_at").max().alias("last_change"),
    )
    deals = deals.filter(pl.col("engage_date") <= cut).join(
        last, on="opportunity_id", how="left", maintain_order="left"
    )
    stage_then = pl.coalesce("stage_then", "deal_stage")
    closed = ["Won", "Lost"]
    deals = deals.with_columns(
        (pl.col("deal_stage").is_in(closed) & ~stage_then.is_in(closed)).alias("closed_later"),
        (pl.col("deal_stage") != stage_then).alias("moved_later"),
    )
    deals = deals.with_columns(
        pl.when("closed_later")
        .then(pl.col("close_date").str.slice(0, 10))
        .otherwise(pl.col("close_date"))
        .alias("close_date"),
        stage_then.alias("deal_stage"),
        pl.when(pl.col("last_modified") > cut)
        .then(pl.max_horizontal("engage_date", "last_change"))
        .otherwise(pl.col("last_modified"))
        .alias("last_modified"),
    )
    counts = {
        "deals_closed_later": int(deals["closed_later"].sum()),
        "deals_moved_later": int(deals["moved_later"].sum()),
    }
    deals = deals.drop("stage_then", "last_change", "closed_later", "moved_later")
    deals.write_csv(cut_folder / "deals.csv")
    history.write_csv(cut_folder / "stage_history.csv")
    (cut_folder / "complete.json").write_text(
        json.dumps(
            {
                "source": json.loads((folder / "complete.json").read_text()),
                "days": WEEK_DAYS,
                "end": end,
                "cut": cut,
                "deals": deals.height,
                "history_rows": history.height,
                **counts,
            }
        )
    )


def size_name(n_deals: int) -> str:
    return next(name for name, n in SIZES.items() if n == n_deals)


def _data_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def _with_edit_rows(history: pl.DataFrame, n_deals: int, seed: int) -> pl.DataFrame:
    """Pad the stage history to ~10 rows per deal with same-stage rows between real changes.

    Salesforce's OpportunityHistory writes a row on every amount or close-date edit, so most rows of
    a real history repeat the current stage; ingest must collapse them into stints.
    """
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
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


@dataclass
class Sample:
    """One timed process: wall seconds, peak RSS from wait4 (the process and the children it waited
    for), the sampled peak of its whole process tree, and its log lines if they were kept."""

    seconds: float
    peak_rss_mb: float
    cpu_seconds: float
    load_after: float
    tree_peak_rss_mb: float | None = None
    tree_cpu_seconds: float | None = None
    log: list[dict] | None = None
    exit_code: int = 0


def measure(
    command: list[str],
    cwd: Path,
    *,
    log: Path | None = None,
    tree: bool = False,
    check: bool = True,
) -> Sample:
    """Time one process.

    Linux carries a process's peak RSS across fork and exec, so this driver stays small (it never
    imports the data libraries; generation runs in a child) or every step would inherit its peak.
    With `log`, stderr goes to that file and its JSON lines come back (run the CLI with
    --log-json). With `tree`, the RSS of the process and all its descendants is summed every half
    second: a JVM that its parent never waits for is missing from wait4's figure.
    """
    started = time.monotonic()
    err = log.open("wb") if log else subprocess.PIPE
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
    sampler = TreeSampler(proc.pid) if tree else None
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    tree_peak, tree_cpu = sampler.stop() if sampler else (None, None)
    if log:
        err.close()
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code != 0 and check:
        text = (
            log.read_text(errors="replace") if log else proc.stderr.read().decode(errors="replace")
        )
        raise SystemExit(f"bench: {' '.join(command)} failed in {cwd}:\n{text[-3000:]}")
    lines = None
    if log:
        lines = []
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line)) if line.startswith("{") else None
    cpu = usage.ru_utime + usage.ru_stime
    load = os.getloadavg()[0]
    return Sample(elapsed, usage.ru_maxrss / 1024, cpu, load, tree_peak, tree_cpu, lines, exit_code)


class TreeSampler:
    """Peak of the summed RSS of a process and its descendants, read from /proc twice a second.

    A descendant is kept once seen, even if it is re-parented (a JVM whose launcher exits)."""

    def __init__(self, pid: int) -> None:
        self.root, self.seen, self.peak = pid, {pid}, 0
        self.cpu_ticks: dict[int, int] = {}  # last utime + stime seen of each process
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.done.wait(0.5):
            parents, ticks = {}, {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    with contextlib.suppress(OSError, IndexError, ValueError):
                        fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                        parents[int(entry)] = int(fields[1])
                        ticks[int(entry)] = int(fields[11]) + int(fields[12])
            grew = True
            while grew:
                new = {pid for pid, parent in parents.items() if parent in self.seen}
                grew = not new <= self.seen
                self.seen |= new
            total = 0.0
            for pid in self.seen & parents.keys():
                self.cpu_ticks[pid] = ticks[pid]
                with contextlib.suppress(OSError, IndexError, ValueError):
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.page_mb
            self.peak = max(self.peak, total)

    def stop(self) -> tuple[float, float]:
        """The peak RSS (MB) and the CPU seconds of the tree (as last seen: up to half a second of
        each process's end is missed)."""
        self.done.set()
        self.thread.join()
        return self.peak, sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")


def model_seconds(lines: list[dict], finished: str) -> dict[str, float]:
    """Seconds per model from the build's `building <model>` log lines: from each such line to the
    next line logged (the last model's time runs to the line starting with `finished`)."""
    out: dict[str, float] = {}
    times = [(line["message"], datetime.fromisoformat(line["time"])) for line in lines]
    for (message, at), (_, then) in zip(times, times[1:], strict=False):
        if message.startswith("building "):
            out[message.removeprefix("building ").split()[0]] = round(
                (then - at).total_seconds(), 2
            )
    unfinished = [m for m, _ in times if m.startswith("building ")]
    if unfinished and not any(m.startswith(finished) for m, _ in times):
        out.pop(unfinished[-1].removeprefix("building ").split()[0], None)
    return out


def floor_command(db: Path, files: tuple[str, ...]) -> list[str]:
    """DuckDB alone: each file into its own table of a file database, types sniffed by DuckDB."""
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1])\n"
        "for i, f in enumerate(sys.argv[2:]):\n"
        "    con.execute(f\"create table t{i} as select * from read_csv('{f}')\")"
    )
    return [sys.executable, "-c", script, str(db), *files]


def table_counts(db: Path) -> dict[str, int]:
    """Rows of every table of the warehouse (a child process: the driver stays small)."""
    script = (
        "import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True)\n"
        'names = [r[0] for r in con.execute("select table_name from information_schema.tables '
        "where table_type = 'BASE TABLE' order by 1\").fetchall()]\n"
        "print(json.dumps({n: con.execute(f'select count(*) from \"{n}\"').fetchone()[0] "
        "for n in names}))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, check=True)
    return json.loads(out.stdout)


def mart_figures(db: Path) -> dict[str, object]:
    """What the pandas notebook computes, as the warehouse's marts have it: mart_kpis's row and
    mart_stage_conversion's and mart_stage_duration's rows by stage (a child process)."""
    script = (
        "import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "def rows(sql):\n"
        "    cur = con.execute(sql); names = [d[0] for d in cur.description]\n"
        "    return [dict(zip(names, r)) for r in cur.fetchall()]\n"
        "def by_stage(mart):\n"
        "    return {r['stage']: r for r in rows(f'select * from {mart}')}\n"
        "kpis = rows('select * from mart_kpis')[0]\n"
        "print(json.dumps({'as_of': str(kpis['as_of']), 'kpis': kpis,\n"
        "    'stage_conversion': by_stage('mart_stage_conversion'),\n"
        "    'stage_duration': by_stage('mart_stage_duration')}, default=str))"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, check=True)
    return json.loads(out.stdout)


# The figures that make the pandas notebook's time a like-for-like yardstick: they must be equal
# (bitwise); every other figure it shares with the marts is compared within RELATIVE_TOLERANCE
# (the warehouse sums amounts and days as DECIMAL, pandas as floats).
HEADLINE_FIGURES = (("kpis", "won_deals"), ("kpis", "win_rate"), ("stage_duration", "median_days"))
RELATIVE_TOLERANCE = 1e-9


def compare_notebook(notebook: dict, marts: dict) -> dict[str, object]:
    """The pandas notebook's figures against the marts of a warehouse built from the same files."""
    pairs: list[tuple[str, str, object, object]] = [
        ("as_of", "", notebook["as_of"], marts["as_of"])
    ]
    for key, value in notebook["kpis"].items():
        pairs.append(("kpis", key, value, marts["kpis"].get(key)))
    for table in ("stage_conversion", "stage_duration"):
        for stage in sorted(notebook[table].keys() | marts[table].keys()):
            ours, theirs = notebook[table].get(stage), marts[table].get(stage)
            if ours is None or theirs is None:  # a stage one side has and the other not
                pairs.append((table, stage, ours is not None, theirs is not None))
                continue
            pairs += [(table, f"{stage}.{k}", value, theirs.get(k)) for k, value in ours.items()]
    mismatches, headline_differences, worst = [], [], 0.0
    for table, key, ours, theirs in pairs:
        headline = (table, key.rsplit(".", 1)[-1]) in HEADLINE_FIGURES
        if isinstance(ours, float) and isinstance(theirs, int | float):
            difference = abs(ours - theirs) / max(abs(theirs), 1e-300) if ours != theirs else 0.0
            worst = max(worst, difference)
            same = difference <= RELATIVE_TOLERANCE
        else:
            difference, same = None, ours == theirs
        if headline and ours != theirs:
            headline_differences.append([f"{table}.{key}", ours, theirs])
        if not same:
            mismatches.append([f"{table}.{key}", ours, theirs])
    return {
        "figures_compared": len(pairs),
        "headline_equal": not headline_differences,
        "headline_differences": headline_differences,
        "mismatches": mismatches,
        "max_relative_difference": worst,
        "win_rate": notebook["kpis"]["win_rate"],
        "won_deals": notebook["kpis"]["won_deals"],
        "median_days": {s: r["median_days"] for s, r in notebook["stage_duration"].items()},
    }


BACKTEST_ORIGIN = re.compile(r"backtest origin (\d+) of (\d+): (\S+)$")
BACKTEST_SUMMARY = re.compile(r"backtest: (\d+) origins? kept, (\d+) (?:to )?forecast")


def run_log_figures(lines: list[dict]) -> dict[str, object]:
    """From a `run --log-json`: each step's own seconds (its `step_finished` line), the backtest
    origins forecast (the `backtest origin k of n: <date>` lines) and, if the backtest logs it,
    its summary `backtest: N origins kept, M to forecast (...)`."""
    steps = {
        line["step"]: line["seconds"]
        for line in lines
        if line.get("event") == "step_finished" and "step" in line and "seconds" in line
    }
    origins, kept, forecast, of, summary = [], None, None, None, None
    for line in lines:
        message = str(line.get("message", ""))
        if match := BACKTEST_ORIGIN.match(message):
            origins.append(match[3])
            of = int(match[2])
        elif match := BACKTEST_SUMMARY.search(message):
            kept, forecast, summary = int(match[1]), int(match[2]), message
    return {
        "step_seconds": steps,
        "backtest_seconds": steps.get("backtest"),
        "origins_forecast": origins,
        "origin_lines_of": of,
        "origins_kept_logged": kept,
        "origins_forecast_logged": forecast,
        "backtest_summary": summary,
    }


def model_rows(counts: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in counts.items() if name.startswith(("int_", "mart_"))}


def spark_available() -> str | None:
    """Why the Spark build cannot run here, or None if it can."""
    if shutil.which("java") is None:
        return "no java on PATH"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    help_text = subprocess.run([*CLI, "build", "--help"], capture_output=True, text=True).stdout
    if "--engine" not in help_text:
        return "this pipeline-analytics has no `build --engine`"
    return None


def spark_config(folder: Path, work: Path, driver_memory: str) -> str:
    """The bench config plus the Spark settings: local mode on every core, staging and Spark's
    scratch space in the size's work folder, and the driver's memory (all that Spark gets in local
    mode)."""
    return CONFIG + SPARK_CONFIG.format(
        staging=work / "spark-staging", local_dir=work / "spark-local", driver_memory=driver_memory
    )


def bench_size(
    size: str,
    repetitions: int,
    spark_mode: str | None,
    driver_memory: str,
    backtest: bool = True,
) -> dict[str, object]:
    """Every step `repetitions` times, the pandas notebook among them; then, once, the default
    `run` with the backtest and the weekly scenario (`backtest_runs`). At SINGLE_PASS sizes each
    generic step once on one warehouse (the whole `run` is then the sum of its steps), and no
    Salesforce export, pandas notebook or backtest."""
    folder = ensure_data(size)
    work = folder / "work"
    single_pass = size in SINGLE_PASS
    (folder / "pipeline.toml").write_text(CONFIG)
    (folder / "salesforce.toml").write_text(SALESFORCE_CONFIG)
    (folder / "spark.toml").write_text(spark_config(folder, work, driver_memory))
    (folder / "backtest.toml").write_text(BACKTEST_CONFIG)
    (folder / "weekly.toml").write_text(WEEKLY_CONFIG)
    state = machine_state()
    samples: dict[str, list[Sample]] = {}

    def run(step: str, command: list[str], fresh: bool, **kwargs: object) -> Sample:
        if fresh:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
        sample = measure(command, folder, **kwargs)
        samples.setdefault(step, []).append(sample)
        print(f"bench: {size} {step} {sample.seconds:.1f} s", file=sys.stderr, flush=True)
        return sample

    db = work / "warehouse.duckdb"
    base = [*CLI, "--quiet", "--config", "pipeline.toml", "--db", str(db)]
    logged = [*CLI, "--log-json", "--config", "pipeline.toml", "--db", str(db)]
    salesforce = [*CLI, "--quiet", "--config", "salesforce.toml", "--db", str(db)]
    salesforce_files = tuple(f"salesforce/{name}" for name in SALESFORCE_FILES)
    result: dict[str, object] = {}
    notebook: dict | None = None
    for _ in range(repetitions):
        run("floor", floor_command(db, EXPORT_FILES), fresh=True)
        if not single_pass:
            # Right after the floor, so that both read equally warm files.
            out = work / "pandas.json"
            run("pandas", [sys.executable, str(PANDAS_NOTEBOOK), *EXPORT_FILES, str(out)], False)
            notebook = json.loads(out.read_text())
        run("ingest", [*base, "ingest"], fresh=True)
        build = run("build", [*logged, "build"], fresh=False, log=work / "build.log")
        result["models"] = {"duckdb": model_seconds(build.log or [], "build:")}
        counts = result["table_rows"] = table_counts(db)
        if notebook is not None:
            result["pandas_check"] = compare_notebook(notebook, mart_figures(db))
            result["pandas_phases"] = {k: notebook[k] for k in ("read_seconds", "compute_seconds")}
        run("forecast", [*base, "forecast"], fresh=False)
        run("report", [*base, "report"], fresh=False)
        result["report_bytes"] = max(p.stat().st_size for p in (work / "reports").glob("*.html"))
        if spark_mode:
            result["spark"] = spark_build(folder, work, driver_memory, counts, spark_mode)
            samples["spark_build"] = [result["spark"].pop("sample")]
        if single_pass:
            break
        run("run", [*base, "run"], fresh=True)
        run("salesforce_floor", floor_command(db, salesforce_files), fresh=True)
        run("salesforce_ingest", [*salesforce, "ingest"], fresh=True)
    if backtest and not single_pass:
        result.update(backtest_runs(size, folder, work, run))
    meta = json.loads((folder / "complete.json").read_text())
    result = {
        "deals": meta["deals"],
        "history_rows": meta["history_rows"],
        "salesforce_history_rows": meta["salesforce_history_rows"],
        "input_mb": round(
            sum((folder / f).stat().st_size for f in ("deals.csv", "stage_history.csv")) / 1e6, 1
        ),
        "repetitions": 1 if single_pass else repetitions,
        **state,
        **result,
        "steps": {step: summarise(s) for step, s in samples.items()},
    }
    steps = result["steps"]
    if single_pass:
        # Four processes instead of one: the sum over-counts `run` by three process starts (~2 s
        # each) and the warehouse opened four times.
        parts = [steps[s] for s in ("ingest", "build", "forecast", "report")]
        steps["run"] = {
            "seconds": round(sum(p["seconds"] for p in parts), 2),
            "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
            "sum_of_steps": True,
        }
    else:
        result["salesforce_input_mb"] = round(
            sum((folder / "salesforce" / f).stat().st_size for f in SALESFORCE_FILES) / 1e6, 1
        )
        result["salesforce_ingest_to_floor"] = round(
            steps["salesforce_ingest"]["seconds"] / steps["salesforce_floor"]["seconds"], 2
        )
    result["ingest_to_floor"] = round(steps["ingest"]["seconds"] / steps["floor"]["seconds"], 2)
    result["ratios"] = ratios(steps)
    if single_pass:
        # Kept for `--spark-only`: the ingested and built warehouse (Spark's folders are removed).
        for scratch in ("spark-staging", "spark-local"):
            shutil.rmtree(work / scratch, ignore_errors=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return result


def backtest_runs(size: str, folder: Path, work: Path, run: Callable[..., Sample]) -> dict:
    """The default `run` (backtest included) on a fresh warehouse, then the weekly scenario: a
    fresh warehouse `run` on the export as it stood WEEK_DAYS days before the end (`write_weekly`),
    then the full export put in its place (the same paths) and `run` again. Each `run` is timed
    as a whole; its log gives each step's seconds and the backtest origins it forecast."""
    cli = [*CLI, "--log-json", "--db", str(work / "warehouse.duckdb")]
    first = run(
        "run_backtest",
        [*cli, "--config", "backtest.toml", "run"],
        fresh=True,
        log=work / "run-backtest.log",
    )
    cut = ensure_weekly(size)
    export = folder / "weekly" / "export"
    export.mkdir(parents=True, exist_ok=True)

    def place(source: Path) -> None:
        for name in EXPORT_FILES:
            link = export / name
            link.unlink(missing_ok=True)
            link.symlink_to(source / name)

    place(cut)
    before = run(
        "run_previous_week",
        [*cli, "--config", "weekly.toml", "run"],
        fresh=True,
        log=work / "run-previous-week.log",
    )
    place(folder.resolve())
    second = run(
        "run_second",
        [*cli, "--config", "weekly.toml", "run"],
        fresh=False,
        log=work / "run-second.log",
    )
    for name in EXPORT_FILES:
        (export / name).unlink(missing_ok=True)
    full, earlier = run_log_figures(first.log or []), run_log_figures(before.log or [])
    again = run_log_figures(second.log or [])
    # The origins the full export has and the earlier one had not: all a second run must forecast.
    new = sorted(set(full["origins_forecast"]) - set(earlier["origins_forecast"]))
    return {
        "backtest_run": full,
        "second_run": {
            "previous_week": {
                **_without(json.loads((cut / "complete.json").read_text())),
                **earlier,
            },
            **again,
            "new_origins": new,
            "only_new_origins_forecast": set(again["origins_forecast"]) <= set(new),
        },
    }


def _without(meta: dict, key: str = "source") -> dict:
    return {k: v for k, v in meta.items() if k != key}


# The targets of issue 18, at 1M deals (peak RSS in MB of 2**20 bytes: 2 GB).
TARGETS = {
    "run_to_pandas": 4.0,
    "ingest_to_floor": 2.0,
    "ingest_build_to_pandas": 1.5,
    "run_backtest_peak_rss_mb": 2048,
}


def ratios(steps: dict[str, dict]) -> dict[str, object]:
    """The targets' ratios, of median wall times (and the same of CPU seconds, which move less on a
    shared machine; the pandas notebook uses about one core where DuckDB uses all of them)."""

    def ratio(over: list[str], under: str, key: str) -> float | None:
        if under not in steps or any(step not in steps for step in over):
            return None
        return round(sum(steps[step][key] for step in over) / steps[under][key], 2)

    out: dict[str, object] = {}
    for name, key in (("wall", "seconds"), ("cpu", "cpu_seconds")):
        figures = {
            "run_to_pandas": ratio(["run_backtest"], "pandas", key),
            "run_without_backtest_to_pandas": ratio(["run"], "pandas", key),
            "ingest_to_floor": ratio(["ingest"], "floor", key),
            "ingest_build_to_pandas": ratio(["ingest", "build"], "pandas", key),
        }
        out[name] = {k: v for k, v in figures.items() if v is not None}
    return out


def spark_build(
    folder: Path, work: Path, driver_memory: str, counts: dict[str, int], mode: str
) -> dict:
    """The Spark build on the warehouse the DuckDB build just filled, with the sampled peak RSS of
    its process tree (the JVM is a child of the CLI, which does not wait for it).

    mode "cli": `build --engine spark` itself, per-model times from its log, and whether every
    model table then has the rows it had after the DuckDB build. mode "models": the same steps
    model by model in a child (`spark_models`), where a model that fails on Spark gets DuckDB's
    table in its place so the models downstream still run, and Spark's own metrics give each
    model's shuffle bytes; nothing in the warehouse changes. "auto": cli, then models if it fails.
    """
    (folder / "spark.toml").write_text(spark_config(folder, work, driver_memory))
    db = work / "warehouse.duckdb"
    result: dict[str, object] = {"master": "local[*]", "driver_memory": driver_memory}
    if mode in ("cli", "auto"):
        _clean_spark_scratch(work)
        command = [
            *CLI, "--log-json", "--config", "spark.toml", "--db", str(db), "build", "--engine",
            "spark",
        ]  # fmt: skip
        sample = measure(command, folder, log=work / "spark-build.log", tree=True, check=False)
        lines = sample.log or []
        if sample.exit_code == 0:
            spark_counts, counts = model_rows(table_counts(db)), model_rows(counts)
            result.update(
                mode="cli",
                staging_mb=_folder_mb(work / "spark-staging"),
                models=spark_log_seconds(lines, "built "),
                staged=spark_log_seconds(lines, "staged "),
                load_back_seconds=_load_back_seconds(lines),
                same_row_counts=spark_counts == counts,
                row_count_differences={
                    name: [counts.get(name), spark_counts.get(name)]
                    for name in sorted(counts.keys() | spark_counts.keys())
                    if counts.get(name) != spark_counts.get(name)
                },
                sample=sample,
            )
            return result
        errors = [line["message"] for line in lines if line.get("level") == "error"]
        error = (errors or [line["message"] for line in lines] or ["no log"])[-1]
        if mode == "cli":
            raise SystemExit(f"bench: the Spark build failed: {error}")
        result["cli_failed"] = {"seconds": round(sample.seconds, 1), "error": error[:500]}
        print(
            f"bench: build --engine spark failed ({error[:200]}); model by model", file=sys.stderr
        )
    _clean_spark_scratch(work)
    out = work / "spark-models.json"
    command = [
        *[sys.executable, __file__, "--spark-models", str(db), "spark.toml", str(out)],
        *[SQL_DIR_OVERRIDE, str(SPARK_BUDGET)],
    ]
    if SQL_DIR_OVERRIDE:
        result["sql_dir"] = SQL_DIR_OVERRIDE
    if SPARK_BUDGET:
        result["budget_seconds"] = SPARK_BUDGET
    sample = measure(command, folder, log=work / "spark-models.log", tree=True)
    result.update(mode="models", **json.loads(out.read_text()), sample=sample)
    result["staging_mb"] = _folder_mb(work / "spark-staging")
    return result


def _clean_spark_scratch(work: Path) -> None:
    for scratch in ("spark-staging", "spark-local"):
        shutil.rmtree(work / scratch, ignore_errors=True)


def _folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def spark_log_seconds(lines: list[dict], prefix: str) -> dict[str, float]:
    """The Spark build's own figures: `built <model> on Spark in 1.2 s`, `staged <table> in 0.3
    s`."""
    out = {}
    for line in lines:
        match = re.fullmatch(rf"{prefix}(\S+) .*in ([0-9.]+) s", line["message"])
        if match:
            out[match[1]] = float(match[2])
    return out


def _load_back_seconds(lines: list[dict]) -> float | None:
    """From the last model built on Spark to the end of the build: loading the results into the
    warehouse and committing."""
    times = [(line["message"], datetime.fromisoformat(line["time"])) for line in lines]
    built = [at for message, at in times if message.startswith("built ")]
    done = [at for message, at in times if message.startswith("build:")]
    return round((done[-1] - built[-1]).total_seconds(), 2) if built and done else None


def spark_models(db: str, config_path: str, out: str, sql_dir: str = "", budget: str = "0") -> None:
    """Child of `spark_build` (mode "models"): the Spark build's own steps, one model at a time.

    The core tables are staged and each model runs on Spark with pipeline_analytics.spark.build's
    functions; a model Spark cannot run is replaced by DuckDB's table, staged like a core table.
    Each model's stages are read from Spark's status API (shuffle written and read, input, task
    time). The models that ran are then loaded into the warehouse as the build loads them, in a
    transaction that is rolled back.
    """
    import duckdb

    from pipeline_analytics.build import model_graph
    from pipeline_analytics.config import load_config
    from pipeline_analytics.errors import PipelineError
    from pipeline_analytics.spark import build as spark_build_module

    config = load_config(Path(config_path))
    conf = {
        **config.spark.conf,
        "spark.ui.retainedStages": "100000",
        "spark.ui.retainedJobs": "100000",
    }
    settings = replace(
        config.spark, staging=config.spark.staging_for(Path(db).resolve()), conf=conf
    )
    models = model_graph(Path(sql_dir)).models if sql_dir else model_graph().models
    con = duckdb.connect(db)
    staging = spark_build_module.Staging(settings.staging)
    report: dict[str, dict] = {"staged": {}, "models": {}, "failed": {}, "load": {}, "stages": {}}
    started = time.perf_counter()
    with spark_build_module.spark_session(settings) as spark:
        report["session_seconds"] = round(time.perf_counter() - started, 2)
        stages = StageMetrics(spark)
        for table in spark_build_module.core_tables_read(con, models):
            began = time.perf_counter()
            staging.put_core_table(con, spark, table)
            report["staged"][table] = round(time.perf_counter() - began, 2)
        report["stages"]["(staging)"] = stages.since_last()
        for model in models:
            if float(budget) and time.perf_counter() - started > float(budget):
                # Out of time: what ran is recorded; the rest and the loading back are not.
                report["not_run"] = [m.name for m in models if m.name not in report["stages"]]
                break
            began = time.perf_counter()
            try:
                spark_build_module._run_model(spark, staging, model)
                report["models"][model.name] = round(time.perf_counter() - began, 2)
            except PipelineError as exc:
                report["failed"][model.name] = str(exc)[:400]
                staging.put_core_table(con, spark, model.name)
            report["stages"][model.name] = stages.since_last()
            Path(out).write_text(json.dumps(report, indent=1))  # what a killed run leaves
        con.execute("begin")
        for model in models:
            if model.name in report["models"] and not report.get("not_run"):
                began = time.perf_counter()
                spark_build_module._load_model(con, spark, staging, model)
                report["load"][model.name] = round(time.perf_counter() - began, 2)
        con.execute("rollback")
    report["staged_mb"] = {
        table: _folder_mb(Path(staging.path("core", table))) for table in report["staged"]
    }
    report["model_output_mb"] = {
        name: _folder_mb(Path(staging.path("models", name))) for name in report["models"]
    }
    report["total_seconds"] = round(time.perf_counter() - started, 2)
    Path(out).write_text(json.dumps(report, indent=1))


class StageMetrics:
    """Sums of Spark's per-stage metrics (status REST API of the driver's UI) for the stages that
    completed since the last call: bytes, tasks, task time (executorRunTime, ms: wall time of the
    task threads) and executorCpuTime (ns: CPU time of those threads)."""

    FIELDS = (
        "shuffleWriteBytes", "shuffleReadBytes", "inputBytes", "outputBytes", "numTasks",
        "executorRunTime", "executorCpuTime", "memoryBytesSpilled", "diskBytesSpilled",
    )  # fmt: skip

    def __init__(self, spark: object) -> None:
        self.url = spark.sparkContext.uiWebUrl  # type: ignore[attr-defined]
        self.app = spark.sparkContext.applicationId  # type: ignore[attr-defined]
        self.seen: set[tuple[int, int]] = set()

    def since_last(self) -> dict[str, int]:
        import urllib.request

        if not self.url:
            return {}
        address = f"{self.url}/api/v1/applications/{self.app}/stages?status=complete"
        with urllib.request.urlopen(address, timeout=60) as response:
            stages = json.load(response)
        new = [s for s in stages if (s["stageId"], s["attemptId"]) not in self.seen]
        self.seen |= {(s["stageId"], s["attemptId"]) for s in new}
        totals = {f: sum(int(s.get(f, 0)) for s in new) for f in self.FIELDS}
        totals["stages"] = len(new)
        return totals


def log_gaps(lines: list[dict]) -> list[list[object]]:
    """Every log line that is not a model's, with the seconds until the next line (where the
    Spark build spends its time outside the models: session start, staging, loading back)."""
    times = [(line["message"], datetime.fromisoformat(line["time"])) for line in lines]
    return [
        [message, round((then - at).total_seconds(), 2)]
        for (message, at), (_, then) in zip(times, times[1:], strict=False)
        if not message.startswith("building ")
    ]


def spark_only(size: str, driver_memory: str, previous: dict, mode: str) -> dict:
    """Only the Spark build, on the warehouse a single-pass run kept (ingested and built again if it
    is missing); the DuckDB figures of the size stay as they were measured."""
    folder = ensure_data(size)
    work = folder / "work"
    db = work / "warehouse.duckdb"
    counts = previous.get("table_rows")
    if not db.is_file() or not counts:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        (folder / "pipeline.toml").write_text(CONFIG)
        base = [*CLI, "--quiet", "--config", "pipeline.toml", "--db", str(db)]
        for step in ("ingest", "build"):
            measure([*base, step], folder)
        counts = table_counts(db)
    result = dict(previous)
    if "deals" not in result:  # a size never benchmarked here: its basic figures
        meta = json.loads((folder / "complete.json").read_text())
        result.update(
            deals=meta["deals"],
            history_rows=meta["history_rows"],
            salesforce_history_rows=meta["salesforce_history_rows"],
            input_mb=round(
                sum((folder / f).stat().st_size for f in ("deals.csv", "stage_history.csv")) / 1e6,
                1,
            ),
            table_rows=counts,
        )
    state = machine_state()
    result["spark"] = spark_build(folder, work, driver_memory, counts, mode)
    result.setdefault("steps", {})["spark_build"] = summarise([result["spark"].pop("sample")])
    result["spark"]["measured"] = state
    if size not in SINGLE_PASS:
        shutil.rmtree(work, ignore_errors=True)
    return result


def record_partial_spark(args: list[str], driver_memory: str) -> None:
    """Put what a stopped model-by-model Spark build finished into results.json: its per-model
    figures (written after each model), the time up to its last model, and the process tree's peak
    RSS and CPU from a JSON sample taken outside the bench ({"peak_rss_mb", "cpu_seconds"})."""
    size, tree_file = args
    work = DATA_DIR / size / "work"
    report = json.loads((work / "spark-models.json").read_text())
    tree = json.loads(Path(tree_file).read_text())
    results_path = BENCH_DIR / "results.json"
    summary = json.loads(results_path.read_text())
    entry = summary["sizes"][size]
    done = set(report["stages"]) - {"(staging)"}
    seconds = (
        report["session_seconds"] + sum(report["staged"].values()) + sum(report["models"].values())
    )
    entry["spark"] = {
        "master": "local[*]",
        "driver_memory": driver_memory,
        "mode": "models",
        "complete": False,
        "stopped_at": datetime.fromtimestamp(
            (work / "spark-models.json").stat().st_mtime, UTC
        ).isoformat(timespec="seconds"),
        "not_run": [name for name in entry.get("models", {}).get("duckdb", {}) if name not in done],
        **report,
        "staging_mb": _folder_mb(work / "spark-staging"),
    }
    entry["steps"]["spark_build_partial"] = {
        "seconds": round(seconds, 2),
        "tree_peak_rss_mb": tree["peak_rss_mb"],
        "tree_cpu_seconds": tree["cpu_seconds"],
        "models_run": len(done),
    }
    results_path.write_text(json.dumps(summary, indent=2) + "\n")


def summarise(samples: list[Sample]) -> dict[str, object]:
    figures: dict[str, object] = {
        "seconds": round(statistics.median(s.seconds for s in samples), 2),
        "peak_rss_mb": round(max(s.peak_rss_mb for s in samples)),
    }
    # CPU time (user + system, of the process and the children it waited for) moves far less than
    # wall time when other jobs share the cores; the 1-minute load average at the end of the step
    # says how shared they were (2 cores: 2.0 is fully busy).
    figures["cpu_seconds"] = round(statistics.median(s.cpu_seconds for s in samples), 2)
    figures["load_after"] = round(max(s.load_after for s in samples), 2)
    trees = [s.tree_peak_rss_mb for s in samples if s.tree_peak_rss_mb is not None]
    if trees:
        figures["tree_peak_rss_mb"] = round(max(trees))
        cpus = [s.tree_cpu_seconds for s in samples if s.tree_cpu_seconds is not None]
        figures["tree_cpu_seconds"] = round(statistics.median(cpus), 1)
    return figures


def machine_state() -> dict[str, object]:
    """When, and how busy the machine was (other jobs share its cores) and how much RAM was free."""
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "mem_available_gb": round(int(meminfo["MemAvailable"].split()[0]) / 2**20, 1),
    }


def growth(results: dict[str, dict], step: str, key: str) -> dict[str, float]:
    """Fitted exponent b in cost ~ deals^b between consecutive sizes that both have the step."""
    sizes = [s for s in SIZES if s in results and step in results[s].get("steps", {})]
    out = {}
    for small, large in zip(sizes, sizes[1:], strict=False):
        a, b = results[small], results[large]
        ratio = b["steps"][step][key] / a["steps"][step][key]
        out[f"{small}->{large}"] = round(math.log(ratio) / math.log(b["deals"] / a["deals"]), 2)
    return out


def print_table(results: dict[str, dict]) -> None:
    steps = ["floor", "ingest", "build", "forecast", "report", "run", "spark_build"]
    print(f"{'size':>6} {'history':>11} " + " ".join(f"{s:>16}" for s in steps) + "  ingest/floor")
    for size, r in results.items():
        cells = " ".join(
            f"{r['steps'][s]['seconds']:>7.2f}s {r['steps'][s]['peak_rss_mb']:>5}MB"
            if s in r["steps"]
            else f"{'-':>16}"
            for s in steps
        )
        ratio = f"{r['ingest_to_floor']:>6.2f}x" if "ingest_to_floor" in r else ""
        print(f"{size:>6} {r['history_rows']:>11,} {cells}  {ratio}")
        if r["steps"].get("run", {}).get("sum_of_steps"):
            print(f"{'':>6} (run: the sum of ingest, build, forecast and report, each run once)")
        if "spark_build" in r["steps"]:
            spark = r["steps"]["spark_build"]
            print(f"{'':>6} (spark build: process tree peak {spark.get('tree_peak_rss_mb')} MB)")
    print_backtest_table(results)
    print("Salesforce export: floor, ingest, ingest/floor")
    for size, r in results.items():
        if "salesforce_ingest" in r["steps"]:
            floor, ingest = r["steps"]["salesforce_floor"], r["steps"]["salesforce_ingest"]
            print(
                f"{size:>6} {r['salesforce_history_rows']:>11,} {floor['seconds']:>7.2f}s "
                f"{ingest['seconds']:>7.2f}s {ingest['peak_rss_mb']:>5}MB "
                f"{r['salesforce_ingest_to_floor']:>6.2f}x"
            )


def print_backtest_table(results: dict[str, dict]) -> None:
    """The targets' figures: the pandas notebook, the default `run` with the backtest (first run,
    fresh warehouse), the ratios, and the second `run` after one more weekly export."""
    rows = [(size, r) for size, r in results.items() if "pandas" in r.get("steps", {})]
    if not rows:
        return
    print(
        "Default run (backtest on) against the pandas notebook; targets at 1M: run/pandas <= "
        f"{TARGETS['run_to_pandas']}x, ingest/floor <= {TARGETS['ingest_to_floor']}x, "
        f"(ingest+build)/pandas <= {TARGETS['ingest_build_to_pandas']}x, peak RSS < 2 GB"
    )
    header = ("pandas", "run+backtest", "peak RSS", "backtest", "run/pd", "ingest/fl", "(i+b)/pd")
    header += ("2nd run", "its bt", "origins")
    print(f"{'size':>6} " + " ".join(f"{h:>12}" for h in header) + "  notebook vs marts")
    for size, r in rows:
        steps, wall = r["steps"], r.get("ratios", {}).get("wall", {})
        first, second = r.get("backtest_run", {}), r.get("second_run", {})
        origins = second.get("origins_forecast_logged")
        if origins is None and "origins_forecast" in second:
            origins = len(second["origins_forecast"])
        cells = [
            _cell(steps["pandas"]["seconds"], "s"),
            _cell(steps.get("run_backtest", {}).get("seconds"), "s"),
            _cell(steps.get("run_backtest", {}).get("peak_rss_mb"), "MB", 0),
            _cell(first.get("backtest_seconds"), "s"),
            _cell(wall.get("run_to_pandas"), "x"),
            _cell(wall.get("ingest_to_floor"), "x"),
            _cell(wall.get("ingest_build_to_pandas"), "x"),
            _cell(steps.get("run_second", {}).get("seconds"), "s"),
            _cell(second.get("backtest_seconds"), "s"),
            _cell(origins, "", 0),
        ]
        check = r.get("pandas_check", {})
        verdict = (
            "equal"
            if check.get("headline_equal") and not check.get("mismatches")
            else f"DIFFER: {len(check.get('headline_differences', []))} headline, "
            f"{len(check.get('mismatches', []))} in all (see results.json)"
        )
        print(f"{size:>6} " + " ".join(cells) + f"  {verdict}")


def _cell(value: float | None, unit: str, decimals: int = 2) -> str:
    text = "-" if value is None else f"{value:.{decimals}f}{unit}"
    return f"{text:>12}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10k,100k",
        help=f"comma-separated, from {','.join(SIZES)} (default 10k,100k)",
    )
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--spark", action="store_true", help="also time `build --engine spark` (always at 10m)"
    )
    parser.add_argument("--no-spark", action="store_true", help="no Spark build, not even at 10m")
    parser.add_argument(
        "--spark-only",
        action="store_true",
        help="time only the Spark build of each size, keeping its other figures in results.json",
    )
    parser.add_argument(
        "--driver-memory", default="12g", help="spark.driver.memory, all Spark gets in local mode"
    )
    parser.add_argument(
        "--spark-mode",
        choices=("auto", "cli", "models"),
        default="auto",
        help="cli: `build --engine spark`; models: model by model, DuckDB's table standing in for "
        "a model Spark cannot run, with shuffle bytes; auto (default): cli, else models",
    )
    parser.add_argument(
        "--spark-budget",
        type=float,
        default=0.0,
        help="with --spark-mode models: start no model after this many seconds (0: no limit)",
    )
    parser.add_argument(
        "--spark-record-partial",
        nargs=2,
        metavar=("SIZE", "TREE_SAMPLE_JSON"),
        help="record the models a stopped model-by-model Spark build of SIZE finished (its "
        "work/spark-models.json), with the peak RSS and CPU of its process tree sampled outside",
    )
    parser.add_argument(
        "--no-backtest",
        action="store_true",
        help="leave out the default `run` with the backtest and the weekly scenario's two runs",
    )
    parser.add_argument("--generate", metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--weekly", metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--spark-models", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sql-dir",
        help="with --spark-mode models: run these model files on Spark instead of the checkout's "
        "(e.g. models made portable on another branch); DuckDB's tables stand in for failures",
    )
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
        return
    if args.weekly:
        write_weekly(args.weekly)
        return
    global SQL_DIR_OVERRIDE, SPARK_BUDGET
    SQL_DIR_OVERRIDE = str(Path(args.sql_dir).resolve()) if args.sql_dir else ""
    SPARK_BUDGET = args.spark_budget
    if args.spark_record_partial:
        record_partial_spark(args.spark_record_partial, args.driver_memory)
        return
    if args.spark_models:
        spark_models(*args.spark_models)
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise SystemExit(f"bench: unknown size(s) {unknown}; choose from {list(SIZES)}")
    why_not = spark_available() if args.spark or args.spark_only or "10m" in sizes else None
    if why_not and args.spark_only:
        raise SystemExit(f"bench: cannot run the Spark build: {why_not}")
    if why_not:
        print(f"bench: skipping the Spark build: {why_not}", file=sys.stderr)
    results_path = BENCH_DIR / "results.json"
    # Sizes not run this time keep their last figures (each entry has its date).
    previous = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results = dict(previous.get("sizes", {}))
    for size in sizes:
        print(f"bench: {size} ...", file=sys.stderr, flush=True)
        if args.spark_only:
            previous_size = results.get(size, {})
            results[size] = spark_only(size, args.driver_memory, previous_size, args.spark_mode)
        else:
            spark = not why_not and not args.no_spark and (args.spark or size == "10m")
            spark_mode = args.spark_mode if spark else None
            repetitions = 1 if size in SINGLE_PASS or size == "1m" else args.repetitions
            results[size] = bench_size(
                size, repetitions, spark_mode, args.driver_memory, backtest=not args.no_backtest
            )
    results = {s: results[s] for s in SIZES if s in results}
    summary = {
        "machine": {
            "cpus": os.cpu_count(),
            "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": sys.version.split()[0],
            **{name: _version(name) for name in ("duckdb", "pyspark", "sqlglot")},
        },
        "sizes": results,
        "growth_exponent": {
            step: growth(results, step, "seconds")
            for step in ("ingest", "build", "run", "salesforce_ingest", "spark_build")
        },
        "memory_growth_exponent": {"run": growth(results, "run", "peak_rss_mb")},
    }
    results_path.write_text(json.dumps(summary, indent=2) + "\n")
    print_table(results)
    print("growth exponents (time):", json.dumps(summary["growth_exponent"]))
    print("growth exponent (peak RSS of run):", json.dumps(summary["memory_growth_exponent"]))


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
