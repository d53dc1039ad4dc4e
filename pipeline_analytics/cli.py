"""Command line: parses arguments and calls the steps; every decision lives in the step modules.

Exit codes: 0 success, also a `partial` run (a step the data cannot support was skipped, or rows
were rejected); 1 anything unexpected (in `run`, an unexpected error in backtest or forecast still
writes the report, then exits 1); 2 bad input or configuration; 3 the warehouse is in use by
another process; 4 partial success (rows rejected, with [run] fail_on_rejected_rows = true).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline_analytics import __version__, runs
from pipeline_analytics.allocator import map_large_blocks_apart
from pipeline_analytics.config import ENGINES, Config, RunSettings, Scenario, load_config
from pipeline_analytics.errors import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_UNEXPECTED,
    ConfigError,
    InputError,
    PipelineError,
)
from pipeline_analytics.logs import PROGRESS, configure_logging, report_error
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import DEFAULT_DB_PATH, connect

if TYPE_CHECKING:
    from pipeline_analytics.forecast import EngineSettings

log = logging.getLogger("pipeline_analytics")

# A path the user gave that cannot be written or read as one (exit 2, not a bug of ours).
PATH_PROBLEMS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}
)

DEFAULT_CONFIG = Path(os.environ.get("PIPELINE_ANALYTICS_CONFIG", "pipeline.toml"))


class Context:
    """What every command needs: parsed arguments, the config (read on first use), the warehouse."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._config: Config | None = None
        # Rows rejected by this command's ingest step, for the digest `run` sends last.
        self.rows_rejected: int | None = None

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
    def run_settings(self) -> RunSettings:
        return self.config.run if self.args.config.is_file() else RunSettings()

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


def _between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.isdigit() or not low <= int(value) <= high:
            raise argparse.ArgumentTypeError(
                f"'{value}' is not a whole number from {low} to {high}"
            )
        return int(value)

    return parse


def cmd_ingest(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.ingest import ingest_sources

    summary = ingest_sources(
        con,
        ctx.config,
        temp_dir=ctx.temp_dir,
        snapshot_at=ctx.args.snapshot_at,
        reload=_sources_to_reload(ctx),
    )
    ctx.rows_rejected = summary.rows_rejected
    log.info(
        "ingest: %d file(s) loaded, %d skipped (already loaded), %d rows loaded, %d rejected%s",
        len(summary.batches),
        len(summary.skipped),
        summary.rows_loaded,
        summary.rows_rejected,
        f"; reloaded source(s) {', '.join(summary.reloaded)}" if summary.reloaded else "",
    )
    return {
        "files_loaded": len(summary.batches),
        "rows_loaded": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
    }


def _sources_to_reload(ctx: Context) -> list[str]:
    """`--reload`: every source, or the one `--source` names (which must be configured)."""
    names = [source.name for source in ctx.config.sources]
    wanted = getattr(ctx.args, "source", None)
    if not getattr(ctx.args, "reload", False):
        return []
    if wanted is None:
        return names
    if wanted not in names:
        raise ConfigError(
            f"--source {wanted}: no source of that name in {ctx.config.path}; "
            f"use one of: {', '.join(names)}"
        )
    return [wanted]


def cmd_build(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.build import build
    from pipeline_analytics.ingest.inference import reporting_currency

    engine = getattr(ctx.args, "engine", None) or ctx.config.warehouse.engine
    spark = ctx.config.spark
    models = build(
        con,
        lookback_days=ctx.config.pipeline.lookback_days,
        currency=reporting_currency(con, ctx.config),
        as_of=getattr(ctx.args, "as_of", None),
        fiscal_year_start_month=ctx.config.pipeline.fiscal_year_start_month,
        lead_expiry_days=ctx.config.pipeline.lead_expiry_days,
        spark=replace(spark, staging=spark.staging_for(ctx.db_path)) if engine == "spark" else None,
    )
    log.info("build: %d models built", len(models))
    for check, deals in con.execute(sql_statement("ops/data_quality_errors")).fetchall():
        log.warning("data quality: %s in %d deal(s); see `pipeline-analytics status`", check, deals)
    return {}


def _engine_settings(ctx: Context) -> EngineSettings:
    from pipeline_analytics.forecast import EngineSettings

    configured, args = ctx.config.forecast, ctx.args
    return EngineSettings(
        horizon_months=getattr(args, "horizon", None) or configured.horizon_months,
        simulations=getattr(args, "simulations", None) or configured.simulations,
        seed=configured.seed if getattr(args, "seed", None) is None else args.seed,
        cashflow=ctx.config.cashflow,
        impute_missing_amounts=configured.impute_missing_amounts,
        targets=ctx.config.targets,
    )


def cmd_forecast(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The base forecast, or with --scenario NAME the configured what-if of that name."""
    from pipeline_analytics.forecast import run_forecast

    settings = _engine_settings(ctx)
    name = getattr(ctx.args, "scenario", None)
    if name is not None:
        settings = replace(settings, scenario=_configured_scenario(ctx, name))
    run_id = run_forecast(con, settings, as_of=getattr(ctx.args, "as_of", None))
    return {"forecast_run_id": run_id}


def _configured_scenario(ctx: Context, name: str) -> Scenario:
    found = {s.name: s for s in ctx.config.scenarios}
    if name not in found:
        configured = ", ".join(found) or "none; add a [scenarios.NAME] table"
        raise ConfigError(
            f"--scenario {name}: no [scenarios.{name}] in {ctx.config.path}; configured: "
            f"{configured}"
        )
    return found[name]


def cmd_forecast_with_scenarios(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """In `run`: the base forecast, then every configured scenario with the base run's seed (the
    data's seed, or the configured one), so each differs from the base by its changes only."""
    from pipeline_analytics.forecast import run_forecast

    settings = _engine_settings(ctx)
    fields: dict[str, object] = {"forecast_run_id": run_forecast(con, settings)}
    scenario_runs = [
        run_forecast(con, replace(settings, scenario=scenario)) for scenario in ctx.config.scenarios
    ]
    if scenario_runs:
        fields[runs.STEP_NOTE] = f"scenario runs {', '.join(map(str, scenario_runs))}"
    return fields


def cmd_backtest(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Forecast the backtest origins not stored yet and rescore them all (`--recompute`: all)."""
    from pipeline_analytics.forecast import BacktestSettings, run_backtest

    args, defaults = ctx.args, BacktestSettings()
    seed = getattr(args, "seed", None)
    settings = BacktestSettings(
        origins=getattr(args, "origins", None) or defaults.origins,
        horizon_months=getattr(args, "horizon", None) or defaults.horizon_months,
        simulations=getattr(args, "simulations", None) or defaults.simulations,
        seed=(ctx.config.forecast.seed if seed is None else seed) or 0,
        cashflow=ctx.config.cashflow,
        impute_missing_amounts=ctx.config.forecast.impute_missing_amounts,
    )
    outcome = run_backtest(con, settings, recompute=getattr(args, "recompute", False))
    log.info("backtest: %d rows stored in forecast_backtest", outcome.rows)
    note = f"{len(outcome.forecast)} origins forecast, {len(outcome.kept)} kept"
    return {runs.STEP_NOTE: note}


def cmd_backtest_in_run(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    if not ctx.config.forecast.backtest_in_run:
        return {runs.STEP_NOTE: "not run: [forecast] backtest_in_run = false"}
    return cmd_backtest(ctx, con)


def cmd_report(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    from pipeline_analytics.report import render_report
    from pipeline_analytics.retention import prune_reports

    out_dir = getattr(ctx.args, "output_dir", None) or ctx.config.report.output_dir
    settings = ctx.config.report
    path = render_report(
        con,
        output_dir=out_dir,
        title=settings.title,
        language=settings.language,
        targets=settings.targets,
        compare=getattr(ctx.args, "compare", None),
    )
    log.info("report: %s", path)
    prune_reports(out_dir, keep=ctx.config.run.keep_reports)
    with PROGRESS.hidden():
        print(f"Report written: {path.resolve()} (also {path.parent.resolve() / 'latest.html'})")
    return {"report_path": str(path)}


def cmd_notify(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The digest: sent on every channel of [notify]; with --dry-run printed, nothing stored."""
    from pipeline_analytics.config import NotifySettings
    from pipeline_analytics.notify.send import DigestRequest, prepare_digest, send_digest

    dry_run = getattr(ctx.args, "dry_run", False)
    settings = ctx.config.notify
    if settings is None and not dry_run:
        raise ConfigError(
            f"{ctx.config.path}: no [notify] table; add one with smtp_host, from and to, or "
            "webhook_url (docs/configuration.md), or pass --dry-run to see the digest"
        )
    request = DigestRequest(
        settings=settings or NotifySettings(),
        report_html=(getattr(ctx.args, "output_dir", None) or ctx.config.report.output_dir)
        / "latest.html",
        stale_after_days=ctx.config.run.stale_after_days,
        rows_rejected=ctx.rows_rejected,
    )
    if dry_run:
        from pipeline_analytics.notify.channels import email_message

        message = email_message(prepare_digest(con, request, store=False), request.settings)
        with PROGRESS.hidden():
            print(_dry_run_text(message))
        return {runs.STEP_NOTE: "dry run: nothing sent"}
    outcome = send_digest(con, request)
    log.info("notify: %s", outcome.note)
    return {runs.STEP_NOTE: outcome.note}


def _dry_run_text(message: EmailMessage) -> str:
    """The message as it would go: headers, the plain-text body, and each attachment's size."""
    lines = [f"{key}: {value}" for key, value in message.items() if key != "Content-Type"]
    body = message.get_body(("plain",))
    lines += ["", body.get_content() if body is not None else ""]
    lines += [
        f"Attachment: {part.get_filename()} ({len(part.get_content()):,} bytes)"
        for part in message.iter_attachments()
    ]
    return "\n".join(lines)


def cmd_export_xlsx(ctx: Context) -> int:
    from pipeline_analytics.workbook import write_workbook

    db = ctx.db_path
    if not db.exists():
        raise InputError(f"no warehouse at {db}; pass --db PATH (or --config) to name it")
    with runs.locked_warehouse(db, "export-xlsx", ctx.connect, ctx.args.wait) as con:
        sheets = write_workbook(con, ctx.args.path)
    print(f"Workbook written: {ctx.args.path.resolve()} ({len(sheets)} sheets besides 'about')")
    return EXIT_OK


def _print_from_warehouse(ctx: Context, text: Callable[[duckdb.DuckDBPyConnection], str]) -> int:
    """Print what `text` reads from the warehouse, opened read-only; a missing warehouse is said,
    not an error (status and rejects answer "nothing yet")."""
    from pipeline_analytics.status import open_read_only

    db = ctx.db_path
    if not db.exists():
        print(f"No warehouse at {db} yet; run `pipeline-analytics --config FILE run` to create it.")
        return EXIT_OK
    con = open_read_only(db, ctx.args.wait)
    try:
        print(text(con))
    finally:
        con.close()
    return EXIT_OK


def cmd_status(ctx: Context) -> int:
    from pipeline_analytics.status import describe

    return _print_from_warehouse(ctx, lambda con: describe(con, ctx.db_path, ctx.run_settings))


def cmd_export_warehouse(ctx: Context) -> int:
    from pipeline_analytics.backup import export_warehouse

    db = ctx.db_path
    if not db.exists():
        raise InputError(f"no warehouse at {db}; pass --db PATH (or --config) to name it")
    read_only = partial(duckdb.connect, str(db), read_only=True)
    with runs.locked_warehouse(db, "export-warehouse", read_only, ctx.args.wait) as con:
        export_warehouse(con, ctx.args.dir)
    print(f"Warehouse {db} exported to {ctx.args.dir}")
    return EXIT_OK


def cmd_import_warehouse(ctx: Context) -> int:
    from pipeline_analytics.backup import import_warehouse, read_manifest

    manifest = read_manifest(ctx.args.dir)  # a bad backup fails before a warehouse is created
    with runs.locked_warehouse(ctx.db_path, "import-warehouse", ctx.connect, ctx.args.wait) as con:
        import_warehouse(con, ctx.args.dir, manifest, replace=ctx.args.replace)
    print(f"Warehouse {ctx.db_path} restored from {ctx.args.dir}")
    return EXIT_OK


def cmd_rejects(ctx: Context) -> int:
    from pipeline_analytics.rejects import show_rejects

    return _print_from_warehouse(
        ctx, lambda con: show_rejects(con, batch_id=ctx.args.batch, out=ctx.args.out)
    )


def cmd_sample(ctx: Context) -> int:
    from pipeline_analytics.sample import write_sample

    write_sample(ctx.args.out, n_deals=ctx.args.deals, seed=ctx.args.seed)
    print(f"Sample written to {ctx.args.out}")
    return EXIT_OK


def cmd_init(ctx: Context) -> int:
    from pipeline_analytics.init import init_config

    out = ctx.args.out or ctx.args.config
    text = init_config(ctx.args.paths, out, force=ctx.args.force)
    with PROGRESS.hidden():
        print(text)
    return EXIT_OK


RECORDED: dict[str, Callable[[Context, duckdb.DuckDBPyConnection], dict[str, object]]] = {
    "ingest": cmd_ingest,
    "build": cmd_build,
    "forecast": cmd_forecast,
    "backtest": cmd_backtest,
    "report": cmd_report,
    "notify": cmd_notify,
}
# The backtest comes before the forecast: the forecast reads it to choose its headline method.
RUN_STEPS: dict[str, Callable[[Context, duckdb.DuckDBPyConnection], dict[str, object]]] = {
    "ingest": cmd_ingest,
    "build": cmd_build,
    "backtest": cmd_backtest_in_run,
    "forecast": cmd_forecast_with_scenarios,
    "report": cmd_report,
}
# Steps of `run` whose error is recorded and the run goes on: the report can be written without
# them. An error in ingest or build stops the run, since the report would be built on their work.
RUN_STEPS_THAT_MAY_FAIL = frozenset({"backtest", "forecast", "notify"})
# Commands that run outside `runs`: they read the warehouse, replace it whole, or do not touch it.
UNRECORDED: dict[str, Callable[[Context], int]] = {
    "init": cmd_init,
    "status": cmd_status,
    "rejects": cmd_rejects,
    "sample": cmd_sample,
    "export-warehouse": cmd_export_warehouse,
    "import-warehouse": cmd_import_warehouse,
    "export-xlsx": cmd_export_xlsx,
}


def run_recorded(ctx: Context, name: str) -> int:
    """Run a warehouse command (`run` = its steps) locked and recorded in `runs`."""
    ctx.config  # noqa: B018 -- a bad config must fail before the warehouse is created
    steps = _run_steps(ctx) if name == "run" else {name: RECORDED[name]}
    return runs.execute(
        runs.RecordedCommand(
            db_path=ctx.db_path,
            command=name,
            steps=[(step, _bound(function, ctx)) for step, function in steps.items()],
            connect=ctx.connect,
            settings=ctx.run_settings,
            wait_seconds=ctx.args.wait,
            may_fail=RUN_STEPS_THAT_MAY_FAIL if name == "run" else frozenset(),
        )
    )


def _run_steps(
    ctx: Context,
) -> dict[str, Callable[[Context, duckdb.DuckDBPyConnection], dict[str, object]]]:
    """`run`'s steps: with [notify] configured, the digest is sent last."""
    has_notify = ctx.args.config.is_file() and ctx.config.notify is not None
    return {**RUN_STEPS, "notify": cmd_notify} if has_notify else RUN_STEPS


def _bound(
    command: Callable[[Context, duckdb.DuckDBPyConnection], dict[str, object]], ctx: Context
) -> runs.Step:
    return lambda con: command(ctx, con)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline-analytics",
        description="Load CRM exports into a DuckDB warehouse, build pipeline metrics, forecast "
        "bookings and write an HTML report.",
        epilog="Exit codes: 0 success, also status partial (a step the data cannot support was "
        "skipped, or rows were rejected); 1 unexpected error (in `run`, a failed backtest or "
        "forecast still writes the report); 2 bad input or configuration; 3 warehouse in use by "
        "another process; 4 rows rejected with [run] fail_on_rejected_rows.",
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
    _add_run_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "init",
        help="recognise an export, write a commented config for it and say what it holds",
    )
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="export files or folders")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="config file to write (default: --config, i.e. ./pipeline.toml)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing config file")
    p = sub.add_parser(
        "ingest",
        help="load new export files of every configured source (a source whose settings changed "
        "is reloaded)",
    )
    p.add_argument(
        "--snapshot-at",
        type=_timestamp,
        default=None,
        help="when the export was taken (default: the latest event timestamp in each file)",
    )
    _add_reload_options(p)
    p = sub.add_parser("build", help="rebuild the SQL models (marts) from the core tables")
    p.add_argument(
        "--as-of",
        type=_timestamp,
        default=None,
        help="measure trailing windows up to this time (default: the latest event of the newest "
        "export: the latest snapshot_at of any loaded file, deals, history or activities)",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="what runs the models: duckdb, or spark as set in [spark] (default: [warehouse] "
        "engine, else duckdb); the tables are the same either way",
    )
    p = sub.add_parser(
        "forecast", help="forecast bookings and cash per month with P10/P50/P90 bands"
    )
    p.add_argument(
        "--as-of",
        type=_timestamp,
        default=None,
        help="forecast with the data known at this time (default: the build's as_of)",
    )
    p.add_argument("--horizon", type=_between(1, 36), help="months ahead (default: config, 12)")
    p.add_argument(
        "--simulations", type=_between(100, 1_000_000), help="Monte Carlo draws (default: config)"
    )
    p.add_argument(
        "--seed", type=_between(0, 2**62), help="random seed (default: config, else new)"
    )
    p.add_argument(
        "--scenario",
        metavar="NAME",
        help="forecast the what-if [scenarios.NAME] of the config instead of the base, with the "
        "base's seed; stored as its own run, which the report shows beside the base",
    )
    p = sub.add_parser("backtest", help="score the forecast and the baselines at past month-ends")
    p.add_argument(
        "--origins", type=_between(1, 120), default=18, help="past month-ends (default 18)"
    )
    p.add_argument(
        "--horizon", type=_between(1, 12), default=3, help="months scored after each (default 3)"
    )
    p.add_argument(
        "--simulations", type=_between(100, 1_000_000), default=2000, help="per month-end (2000)"
    )
    p.add_argument("--seed", type=_between(0, 2**62), help="random seed (default: config, else 0)")
    p.add_argument(
        "--recompute",
        action="store_true",
        help="forecast every month-end again, not only those not stored yet",
    )
    p = sub.add_parser("report", help="write the HTML report from the warehouse")
    p.add_argument("--output-dir", type=Path, default=None, help="default: config [report]")
    p.add_argument(
        "--compare",
        metavar="RUN_ID_OR_DATE",
        default=None,
        help="say what changed since this base forecast run (an id, or a date: the newest run "
        "as of that day or earlier); default: the run before the latest",
    )
    p = sub.add_parser(
        "run",
        help="ingest, build, backtest (month-ends not stored yet), forecast and report, in that "
        "order; then the digest when [notify] is set",
    )
    p.add_argument("--snapshot-at", type=_timestamp, default=None, help="as for ingest")
    _add_reload_options(p)
    sub.add_parser(
        "status",
        help="batches loaded, inferred settings, row counts, freshness, data-quality findings, "
        "last runs",
    )
    p = sub.add_parser(
        "rejects",
        help="rejected input rows: counts by file, column and reason; --out writes them all",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        metavar="N",
        help="only batch N (the summary names each file's batch)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.csv",
        help="write every rejected row (file, line, column, reason, raw record) as CSV",
    )
    p = sub.add_parser("export-warehouse", help="back up every warehouse table as Parquet")
    p.add_argument("dir", type=Path, help="new (or empty) folder to write the backup into")
    p = sub.add_parser("import-warehouse", help="restore a backup written by export-warehouse")
    p.add_argument("dir", type=Path, help="folder written by export-warehouse")
    p.add_argument(
        "--replace", action="store_true", help="overwrite a warehouse that already holds data"
    )
    p = sub.add_parser(
        "export-xlsx",
        help="write the marts and the latest base forecast as an Excel workbook, one sheet each",
    )
    p.add_argument("path", type=Path, metavar="PATH", help="the .xlsx file to write (replaced)")
    p = sub.add_parser(
        "notify",
        help="send the digest (summary, alerts, report and workbook attached) as [notify] says; "
        "`run` sends it last when [notify] is set",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the message instead: nothing sent, no alert or notification stored",
    )
    p = sub.add_parser("sample", help="write a simulated pipeline export (the bundled sample)")
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    p.add_argument("--deals", type=int, default=4000, help="number of deals (default 4000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    for command in {id(p): p for p in sub.choices.values()}.values():
        _add_run_options(command, defaults=False)  # also accepted after the command
    return parser


def _add_reload_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reload",
        action="store_true",
        help="replace every source's rows by a load of all its current files (in one "
        "transaction; on failure the earlier rows stay)",
    )
    parser.add_argument(
        "--source",
        default=None,
        metavar="NAME",
        help="with --reload: reload only the source of this name",
    )


def _add_run_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # Only the main parser sets defaults: a subcommand's default would overwrite a value given
    # before the command.
    parser.add_argument(
        "--log-json",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="log one JSON object per line on stderr (for log collectors)",
    )
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=0.0 if defaults else argparse.SUPPRESS,
        metavar="SECONDS",
        help="when another process holds the warehouse, wait up to SECONDS for it "
        "(default: exit 3 at once)",
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of seconds >= 0")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "source", None) is not None and not args.reload:
        parser.error("--source NAME goes with --reload (ingest --reload --source NAME)")
    configure_logging(
        level=logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO,
        json_lines=args.log_json,
    )
    map_large_blocks_apart()
    ctx = Context(args)
    try:
        if args.command in UNRECORDED:
            return UNRECORDED[args.command](ctx)
        return run_recorded(ctx, args.command)
    except PipelineError as exc:
        report_error(f"error: {exc}", exc.exit_code)
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in PATH_PROBLEMS or not exc.filename:
            return _unexpected(exc)
        report_error(
            f"error: cannot use {exc.filename} ({exc.strerror}); check that path and the "
            "permissions of its folder, or choose another",
            EXIT_BAD_INPUT,
        )
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        report_error(f"interrupted{f' ({exc})' if str(exc) else ''}", EXIT_UNEXPECTED)
        return EXIT_UNEXPECTED
    except Exception as exc:  # the last line of defence: one line, exit 1, traceback with -v
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    log.debug("traceback", exc_info=True)
    report_error(
        f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0]
        + " (please report this with the command you ran)",
        EXIT_UNEXPECTED,
    )
    return EXIT_UNEXPECTED
