"""What the bundled sample produces, captured so a restructuring can prove it changed no result.

`capture(folder)` ingests, builds and forecasts the sample (and builds its three CRM renderings),
renders the report in English and Italian, and returns every core, intermediate, mart and forecast
table plus the report's figures: each KPI's machine value, each chart's data and every word and
number a reader sees. `python -m tests.sample_snapshot` writes that into tests/snapshots/sample/;
do it only when a change of result is intended, and say why in the commit.

Columns that record when or by which run something happened (wall-clock times, run ids) are left
out: they differ on every run by design.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipeline_analytics.cli import main
from pipeline_analytics.report import render_report

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "sample"

# The sample and its CRM renderings; only the first is forecast and reported.
CONFIGS = ("pipeline", "salesforce", "hubspot", "pipedrive_it")
TABLE_PREFIXES = ("int_", "mart_", "forecast_")
# Numbers compare within this relative difference: equal on any machine, whatever the sum order.
TOLERANCE = 1e-9
CORE_TABLES = (
    "deals",
    "deal_snapshots",
    "deal_stage_events",
    "stage_changes",
    "deal_changes",
    "stages",
    "source_stages",
    "activities",
    "leads",
    "crm_names",
    "rejected_rows",
    "inferred_settings",
    "build_params",
)
# Wall-clock and run-identity columns: they differ between two runs of the same data.
VOLATILE = re.compile(
    r"^(run_id|run_at|built_at|loaded_at|started_at|finished_at|batch_id|.*_batch)$"
)
VOLATILE_IN = {"forecast_runs": {"created_at"}}


@dataclass(frozen=True)
class Captured:
    tables: dict[str, pl.DataFrame]
    reports: dict[str, dict]


def _table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = [
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    ]
    return sorted(n for n in names if n.startswith(TABLE_PREFIXES) or n in CORE_TABLES)


def canonical(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Drop volatile columns and order rows by every column (floats rounded), so two equal
    tables compare equal whatever order a query returned them in."""
    volatile = VOLATILE_IN.get(table, set())
    frame = frame.select(
        sorted(c for c in frame.columns if not VOLATILE.match(c) and c not in volatile)
    )
    if frame.is_empty() or not frame.columns:
        return frame
    keys = [_sort_key(c, frame.schema[c]) for c in frame.columns]
    return frame.sort(keys, nulls_last=True)


def assert_frames_close(name: str, got: pl.DataFrame, want: pl.DataFrame) -> None:
    """got equals want (a canonical frame): same columns at least, rows order-free, numbers within
    TOLERANCE relative, everything else exactly."""
    missing = set(want.columns) - set(got.columns)
    assert not missing, f"{name}: columns {sorted(missing)} are gone"
    got = canonical(name.split("/")[-1], got.select(want.columns))
    assert got.height == want.height, f"{name}: {got.height} rows, {want.height} expected"
    for column in want.columns:
        g, w = got[column], want[column]
        assert g.dtype == w.dtype, f"{name}.{column}: type {g.dtype} != {w.dtype}"
        if w.dtype.is_float():
            assert (g.is_null() == w.is_null()).all(), f"{name}.{column}: nulls differ"
            both = pl.DataFrame({"g": g, "w": w}).drop_nulls()
            close = [
                math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE) or (a != a and b != b)
                for a, b in both.iter_rows()
            ]
            assert all(close), f"{name}.{column}: values differ from the expected"
        else:
            assert g.equals(w), f"{name}.{column}: values differ from the expected"


def _sort_key(column: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_float():
        return pl.col(column).round_sig_figs(6)
    if isinstance(dtype, pl.List | pl.Array):
        return pl.col(column).cast(pl.List(pl.String)).list.join("|")
    if isinstance(dtype, pl.Struct):
        return pl.col(column).struct.json_encode()
    return pl.col(column)


def _tables(db: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            name: canonical(name, con.sql(f'select * from "{name}"').pl())
            for name in _table_names(con)
        }


def _plotly_arrays(value):
    """Plotly writes numpy arrays as base64 typed arrays; decode them to lists."""
    if isinstance(value, dict):
        if set(value) >= {"dtype", "bdata"}:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            if "shape" in value:
                array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
            return array.tolist()
        return {k: _plotly_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plotly_arrays(v) for v in value]
    return value


def report_figures(page: str) -> dict:
    """A report's KPI values, chart data and visible text."""
    kpis = re.findall(r'data-kpi="([^"]*)"[^>]*data-value="([^"]*)"', page)
    charts = {}
    decoder = json.JSONDecoder()
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', page):
        data, _ = decoder.raw_decode(page, match.end())
        charts[match.group(1)] = _plotly_arrays(data)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    text = " ".join(text.split())
    return {"kpis": kpis, "charts": charts, "text": text}


def capture(folder: Path) -> Captured:
    """Run the sample (and build its renderings) in `folder`; return what it produced."""
    tables: dict[str, pl.DataFrame] = {}
    reports: dict[str, dict] = {}
    for config in CONFIGS:
        db = folder / f"{config}.duckdb"
        commands = ("ingest", "build", "forecast") if config == "pipeline" else ("ingest", "build")
        for command in commands:
            args = ["-q", "--config", str(SAMPLE / f"{config}.toml"), "--db", str(db), command]
            assert main(args) == 0, f"{config}: {command} failed"
        tables |= {f"{config}/{name}": frame for name, frame in _tables(db).items()}
        if config != "pipeline":
            continue
        with duckdb.connect(str(db)) as con:
            # The report states when the warehouse was built and the files loaded: pin those
            # wall-clock times so the text compares on any day.
            con.execute("update build_params set built_at = timestamp '2026-01-01 00:00:00'")
            con.execute(
                "update ingest_batches set started_at = timestamp '2026-01-01 00:00:00', "
                "finished_at = timestamp '2026-01-01 00:00:00'"
            )
            for language in ("en", "it"):
                out = folder / f"report-{language}"
                path = render_report(con, output_dir=out, language=language)
                reports[language] = report_figures(path.read_text(encoding="utf-8"))
    return Captured(tables, reports)


def write(captured: Captured, target: Path = SNAPSHOT) -> None:
    shutil.rmtree(target, ignore_errors=True)
    for name, frame in captured.tables.items():
        path = target / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path, compression="zstd", compression_level=19, statistics=False)
    for language, figures in captured.reports.items():
        (target / f"report-{language}.json").write_text(
            json.dumps(figures, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
            encoding="utf-8",
        )


def read(target: Path = SNAPSHOT) -> Captured:
    tables = {
        str(path.relative_to(target).with_suffix("")): pl.read_parquet(path)
        for path in sorted(target.rglob("*.parquet"))
    }
    reports = {
        path.stem.removeprefix("report-"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(target.glob("report-*.json"))
    }
    return Captured(tables, reports)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write(capture(Path(tmp)))
    print(f"snapshot written to {SNAPSHOT}", file=sys.stderr)
