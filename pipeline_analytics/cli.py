"""Command line: parses arguments and calls the steps; every decision lives in the step modules.

Exit codes: 0 success, 2 bad input or configuration, 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics import __version__
from pipeline_analytics.config import Config, load_config
from pipeline_analytics.errors import EXIT_OK, EXIT_UNEXPECTED, PipelineError
from pipeline_analytics.warehouse import DEFAULT_DB_PATH, connect

log = logging.getLogger("pipeline_analytics")

DEFAULT_CONFIG = Path(os.environ.get("PIPELINE_ANALYTICS_CONFIG", "pipeline.toml"))


class Context:
    """What every command needs: parsed arguments, the config (read on first use), the warehouse."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.args.config)
        return self._config

    @property
    def db_path(self) -> Path:
        if self.args.db is not None:
            return self.args.db
        if self.args.config.is_file() and self.config.warehouse.path is not None:
            return self.config.warehouse.path
        return DEFAULT_DB_PATH

    def connect(self) -> duckdb.DuckDBPyConnection:
        settings = self.config.warehouse if self.args.config.is_file() else None
        return connect(self.db_path, settings)

    @property
    def temp_dir(self) -> Path:
        settings = self.config.warehouse
        return settings.temp_directory or self.db_path.with_suffix(".tmp")


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"
        ) from exc
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def cmd_ingest(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.ingest import ingest_sources

    summary = ingest_sources(
        con, ctx.config, temp_dir=ctx.temp_dir, snapshot_at=ctx.args.snapshot_at
    )
    log.info(
        "ingest: %d file(s) loaded, %d skipped (already loaded), %d rows loaded, %d rejected",
        len(summary.batches),
        len(summary.skipped),
        summary.rows_loaded,
        summary.rows_rejected,
    )
    return {
        "files_loaded": len(summary.batches),
        "rows_loaded": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
    }


def cmd_build(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.build import build

    models = build(
        con,
        lookback_days=ctx.config.pipeline.lookback_days,
        currency=ctx.config.pipeline.currency,
        as_of=getattr(ctx.args, "as_of", None),
    )
    log.info("build: %d models built", len(models))
    return {}


def cmd_forecast(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.forecast.stage_weighted import run_forecast

    horizon = getattr(ctx.args, "horizon", None) or ctx.config.forecast.horizon_months
    run_id = run_forecast(con, horizon_months=horizon)
    log.info("forecast: run %d stored (%d months)", run_id, horizon)
    return {"forecast_run_id": run_id}


def cmd_report(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.report import render_report

    out_dir = getattr(ctx.args, "output_dir", None) or ctx.config.report.output_dir
    path = render_report(con, output_dir=out_dir, title=ctx.config.report.title)
    log.info("report: %s", path)
    print(f"Report written: {path.resolve()} (also {path.parent.resolve() / 'latest.html'})")
    return {"report_path": str(path)}


def cmd_run(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    outcome: dict[str, object] = {}
    for step in (cmd_ingest, cmd_build, cmd_forecast, cmd_report):
        outcome.update(step(ctx, con))
    return outcome


def cmd_status(ctx: Context) -> int:
    from pipeline_analytics.status import describe

    db = ctx.db_path
    if not db.exists():
        print(f"No warehouse at {db} yet; run `pipeline-analytics --config FILE run` to create it.")
        return EXIT_OK
    con = duckdb.connect(str(db), read_only=True)
    try:
        print(describe(con, db))
    finally:
        con.close()
    return EXIT_OK


def cmd_sample(ctx: Context) -> int:
    from pipeline_analytics.sample import write_sample

    write_sample(ctx.args.out, n_deals=ctx.args.deals, seed=ctx.args.seed)
    print(f"Sample written to {ctx.args.out}")
    return EXIT_OK


RECORDED: dict[str, Callable[[Context, duckdb.DuckDBPyConnection], dict[str, object]]] = {
    "ingest": cmd_ingest,
    "build": cmd_build,
    "forecast": cmd_forecast,
    "report": cmd_report,
    "run": cmd_run,
}


def run_recorded(ctx: Context, name: str) -> int:
    """Run a warehouse command and record it in the `runs` table, whatever its outcome."""
    ctx.config  # noqa: B018 -- a bad config must fail before the warehouse is created
    con = ctx.connect()
    run_id = con.execute("select nextval('run_id_seq')").fetchall()[0][0]
    started = time.monotonic()
    con.execute(
        "insert into runs (run_id, command, started_at, status) "
        "values (?, ?, current_timestamp::timestamp, 'running')",
        [run_id, name],
    )
    try:
        outcome = RECORDED[name](ctx, con)
    except BaseException as exc:
        _finish_run(con, run_id, "failed", {}, str(exc).splitlines()[0] if str(exc) else repr(exc))
        raise
    _finish_run(con, run_id, "succeeded", outcome, None)
    log.info("%s finished in %.1f s", name, time.monotonic() - started)
    con.close()
    return EXIT_OK


def _finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    outcome: dict[str, object],
    error: str | None,
) -> None:
    with contextlib.suppress(duckdb.Error):  # usually no transaction is open
        con.execute("rollback")
    con.execute(
        """
        update runs set finished_at = current_timestamp::timestamp, status = ?,
            files_loaded = ?, rows_loaded = ?, rows_rejected = ?, forecast_run_id = ?,
            report_path = ?, error = ?
        where run_id = ?
        """,
        [
            status,
            outcome.get("files_loaded"),
            outcome.get("rows_loaded"),
            outcome.get("rows_rejected"),
            outcome.get("forecast_run_id"),
            outcome.get("report_path"),
            error,
            run_id,
        ],
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline-analytics",
        description="Load CRM exports into a DuckDB warehouse, build pipeline metrics, forecast "
        "bookings and write an HTML report.",
        epilog="Exit codes: 0 success, 2 bad input or configuration, 1 unexpected error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="TOML config (default: $PIPELINE_ANALYTICS_CONFIG or ./pipeline.toml)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help=f"warehouse file (default: [warehouse] path in the config, else {DEFAULT_DB_PATH})",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, with tracebacks"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="load new export files of every configured source")
    p.add_argument(
        "--snapshot-at",
        type=_timestamp,
        default=None,
        help="when the export was taken (default: the latest event timestamp in each file)",
    )
    p = sub.add_parser("build", help="rebuild the SQL models (marts) from the core tables")
    p.add_argument(
        "--as-of",
        type=_timestamp,
        default=None,
        help="measure trailing windows up to this time (default: the latest snapshot)",
    )
    p = sub.add_parser("forecast", help="forecast bookings per month from the open pipeline")
    p.add_argument("--horizon", type=int, default=None, help="months ahead (default: config)")
    p = sub.add_parser("report", help="write the HTML report from the warehouse")
    p.add_argument("--output-dir", type=Path, default=None, help="default: config [report]")
    p = sub.add_parser("run", help="ingest, build, forecast and report, in that order")
    p.add_argument("--snapshot-at", type=_timestamp, default=None, help="as for ingest")
    sub.add_parser("status", help="batches loaded, row counts and the last runs")
    p = sub.add_parser("sample", help="write a simulated pipeline export (the bundled sample)")
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    p.add_argument("--deals", type=int, default=4000, help="number of deals (default 4000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    ctx = Context(args)
    try:
        if args.command == "status":
            return cmd_status(ctx)
        if args.command == "sample":
            return cmd_sample(ctx)
        return run_recorded(ctx, args.command)
    except PipelineError as exc:
        print(f"pipeline-analytics: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pipeline-analytics: interrupted", file=sys.stderr)
        return EXIT_UNEXPECTED
    except Exception as exc:  # the last line of defence: one line, exit 1, traceback with -v
        log.debug("traceback", exc_info=True)
        print(
            f"pipeline-analytics: unexpected error: {type(exc).__name__}: {exc}".splitlines()[0]
            + " (please report this with the command you ran)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED
