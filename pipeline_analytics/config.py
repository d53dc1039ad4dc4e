"""The TOML configuration: one file describes sources, stages, currency, windows and outputs.

Relative paths inside the file are resolved against the file's own folder, so a config can sit next
to the exports it describes. Unknown keys and missing required keys are errors naming the key.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline_analytics.errors import ConfigError

ADAPTERS = ("generic", "salesforce", "hubspot", "pipedrive")
DECIMAL_SEPARATORS = (".", ",")
DATE_ORDERS = ("dmy", "mdy")

# Canonical deal columns a generic source can map; the required ones have no default header (a deal
# without a creation date loads: it is left out of cycle and cohort figures only).
DEAL_COLUMNS = (
    "deal_id",
    "name",
    "account",
    "owner",
    "pipeline",
    "lead_source",
    "deal_type",
    "stage",
    "status",
    "amount",
    "currency",
    "probability",
    "created_at",
    "closed_at",
    "expected_close_date",
    "stage_changed_at",
    "updated_at",
    "activity_count",
    "segment",
    "lead_id",  # the lead the deal was converted from (links deals to `leads`)
    "forecast_category",  # the rep's call (Pipeline, Best Case, Commit, Closed, Omitted)
)
REQUIRED_DEAL_COLUMNS = ("deal_id", "stage")
HISTORY_COLUMNS = ("deal_id", "stage", "changed_at")
# Canonical columns of an activities file (one row per call, email, meeting...).
ACTIVITY_COLUMNS = ("deal_id", "activity_type", "occurred_at", "owner")
REQUIRED_ACTIVITY_COLUMNS = ("deal_id", "occurred_at")
# Canonical columns of a leads file (one row per lead); first and last name make `name` when
# the file has no full name.
LEAD_COLUMNS = (
    "lead_id",
    "name",
    "first_name",
    "last_name",
    "company",
    "owner",
    "lead_source",
    "status",
    "created_at",
    "converted_at",
    "converted_deal_id",
)
REQUIRED_LEAD_COLUMNS = ("lead_id", "created_at")
# A lead never converted counts as lost once older than this (days); ten years at most.
LEAD_EXPIRY_DAYS = (1, 3660)
# The trailing KPI window: a day at least, ten years at most (longer is a typo, not a window).
LOOKBACK_DAYS = (1, 3660)
CURRENCY_CODE = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class StatusMapping:
    """Values (of the status column when mapped, else of the stage column) that mean won or lost."""

    won: tuple[str, ...]
    lost: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    name: str
    adapter: str
    path: Path
    history: Path | None
    columns: dict[str, str]
    history_columns: dict[str, str]
    status: StatusMapping
    date_format: str | None = None
    # Reading the export: XLSX sheet name, decimal separator, day/month order (else detected).
    sheet: str | None = None
    decimal: str | None = None
    date_order: str | None = None
    encoding: str | None = None  # a text export's encoding (else detected; see files.py)
    activities: Path | None = None
    activity_columns: dict[str, str] = field(default_factory=dict)
    # The currency of amounts that name none (no currency column, no code or symbol in the
    # amount): `currency` of the source, else [pipeline] currency (filled in by parse_config).
    currency: str | None = None
    # Settings above filled in by ingest's inference rather than by the config (e.g. "currency"):
    # a batch records only configured settings, so a new inference never forces a reload.
    inferred: frozenset[str] = frozenset()
    leads: Path | None = None
    lead_columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineSettings:
    # None: inferred at ingest from the export (docs/configuration.md says how); given, they win.
    stages: tuple[str, ...] | None = None
    currency: str | None = None
    lookback_days: int = 365
    rates: dict[str, float] = field(default_factory=dict)
    probabilities: tuple[float, ...] | None = None
    fiscal_year_start_month: int = 1  # 2 = fiscal years run February to January
    rates_file: Path | None = None  # CSV: currency, valid_from, rate (dated rates to `currency`)
    lead_expiry_days: int = 90  # a lead never converted is lost once older than this


ENGINES = ("duckdb", "spark")
# The models' times are UTC wall-clock times; Spark must read and write them in UTC too.
SPARK_SESSION_TIME_ZONE = "UTC"
DEFAULT_SPARK_STAGING = "spark-staging"
SPARK_MASTER = re.compile(r"local(\[(\*|[1-9][0-9]*)\])?|(spark|sc|yarn|k8s)://.+|yarn")


@dataclass(frozen=True)
class WarehouseSettings:
    path: Path | None
    memory_limit: str | None
    temp_directory: Path | None
    threads: int | None
    engine: str = "duckdb"  # what runs the models in `build`: duckdb, or spark ([spark])


def is_folder(location: str) -> bool:
    """A Spark staging location is a local folder unless it is a URI (s3a://, file://...)."""
    return "://" not in location


@dataclass(frozen=True)
class SparkSettings:
    """Where `build --engine spark` runs the models (docs/configuration.md, [spark])."""

    master: str = "local[*]"  # local[N], spark://host:7077, sc://host:15002 (Spark Connect)
    # Parquet of the core tables and of each model: a folder, or a URI Spark writes (s3a://...);
    # None: spark-staging/ beside the warehouse file.
    staging: str | None = None
    conf: dict[str, str] = field(default_factory=dict)  # passed to Spark as given

    def staging_for(self, warehouse: Path) -> str:
        """The staging location: as configured, else spark-staging/ beside the warehouse."""
        return self.staging or str(warehouse.resolve().parent / DEFAULT_SPARK_STAGING)


FORECAST_METHODS = ("engine",)
BILLING_SCHEDULES = ("upfront", "annual", "quarterly", "monthly", "milestones")
COLLECTION_CURVE_DAYS = (0, 30, 60, 90)  # days past the due date of each collection_curve share


@dataclass(frozen=True)
class ForecastSettings:
    horizon_months: int = 12
    simulations: int = 10_000
    seed: int | None = None  # None: a fresh seed per run, stored in forecast_runs.seed
    method: str = "engine"
    backtest_in_run: bool = True  # `run` rescores the backtest after new data
    # An open deal without an amount counts at the median won amount of similar deals.
    impute_missing_amounts: bool = True


@dataclass(frozen=True)
class PaymentTerms:
    """How booked deals of one kind become invoices, cash and revenue (docs/forecasting.md)."""

    billing: str = "annual"
    term_months: int = 12
    milestones: tuple[tuple[int, float], ...] = ()  # (months after booking, share of amount)
    payment_terms_days: int = 30
    collection_curve: tuple[float, ...] = (0.70, 0.20, 0.07, 0.03)  # see COLLECTION_CURVE_DAYS
    bad_debt: float = 0.01


@dataclass(frozen=True)
class CashflowSettings:
    default: PaymentTerms = PaymentTerms()
    deal_types: dict[str, PaymentTerms] = field(default_factory=dict)

    def terms_for(self, deal_type: str | None) -> PaymentTerms:
        return self.deal_types.get(deal_type, self.default) if deal_type else self.default


@dataclass(frozen=True)
class ReportSettings:
    output_dir: Path = Path("reports")
    title: str | None = None  # None: "Pipeline report" in the report's language
    language: str = "en"  # "en" or "it": labels, numbers and dates
    # Bookings target per quarter, (year, quarter) -> amount in the reporting currency; the year is
    # the fiscal year (named by the calendar year it ends in) when fiscal_year_start_month != 1.
    targets: dict[tuple[int, int], float] = field(default_factory=dict)


TARGET_PERIOD = re.compile(r"(?P<year>\d{4})(?:-Q(?P<quarter>[1-4])|-(?P<month>0[1-9]|1[0-2]))?")
TARGET_COLUMNS = ("period", "amount", "owner", "pipeline")


@dataclass(frozen=True)
class Target:
    """A bookings target: a fiscal quarter "2026-Q4", a month "2026-11" or a fiscal year "2027",
    company-wide, or for one owner or one pipeline (docs/configuration.md, Targets)."""

    period: str
    amount: float
    owner: str | None = None
    pipeline: str | None = None

    @property
    def period_kind(self) -> str:
        match = TARGET_PERIOD.fullmatch(self.period)
        assert match is not None  # checked when parsed
        return "quarter" if match["quarter"] else "month" if match["month"] else "year"


@dataclass(frozen=True)
class RunSettings:
    """Unattended runs: whether rejected rows fail a run, when data is stale, report retention."""

    fail_on_rejected_rows: bool = False
    stale_after_days: int = 3
    keep_reports: int = 30  # dated reports kept; 0 keeps them all


NOTIFY_ATTACHMENTS = ("html", "xlsx")
# Keys that would put a secret in the config: refused, naming the environment-variable key instead.
NOTIFY_SECRET_KEYS = {"password", "smtp_password", "smtp_user", "user", "token"}


@dataclass(frozen=True)
class NotifySettings:
    """Where the digest goes (docs/configuration.md, [notify]): e-mail over SMTP and/or a webhook.

    Credentials never sit in the config: `smtp_user_env` and `smtp_password_env` name environment
    variables read when the digest is sent."""

    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    from_address: str | None = None
    to: tuple[str, ...] = ()
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    webhook_url: str | None = None
    attach: tuple[str, ...] = NOTIFY_ATTACHMENTS


SCENARIO_NAME = re.compile(r"[a-z0-9_-]+")
SCENARIO_FACTORS = ("win_rate_factor", "cycle_factor", "new_pipeline_factor", "amount_factor")


@dataclass(frozen=True)
class Scenario:
    """A what-if forecast (docs/forecasting.md, "What-if scenarios"): the base forecast's one
    simulation with these changes; every factor 1 and nothing excluded or added is the base."""

    name: str
    win_rate_factor: float = 1.0  # open deals' win chances and new pipeline's create-to-won share
    cycle_factor: float = 1.0  # time to close stretched (above 1) or shortened
    new_pipeline_factor: float = 1.0  # pipeline created per month
    amount_factor: float = 1.0  # deal amounts, open and new
    exclude_deals: tuple[str, ...] = ()  # deal ids left out of the open pipeline
    added_reps: int = 0  # reps hired at as_of, each creating pipeline like the median rep
    ramp_months: int = 0  # months a new rep takes, linearly, to reach that


@dataclass(frozen=True)
class Config:
    path: Path
    sources: tuple[Source, ...]
    pipeline: PipelineSettings
    warehouse: WarehouseSettings
    forecast: ForecastSettings
    report: ReportSettings
    run: RunSettings = RunSettings()
    cashflow: CashflowSettings = CashflowSettings()
    spark: SparkSettings = SparkSettings()
    notify: NotifySettings | None = None  # None: no [notify], `run` sends no digest
    scenarios: tuple[Scenario, ...] = ()
    # [[targets]] or `targets = "file.csv"`, with the [report] targets quarters folded in.
    targets: tuple[Target, ...] = ()


def load_config(path: Path) -> Config:
    """Read and validate a config file; raise ConfigError naming the offending key."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: config file not found; pass --config PATH "
            "(copy data/sample/pipeline.toml to start)"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    base = path.resolve().parent
    where = _Where(path)
    where.only_keys(
        raw,
        "",
        {
            "sources",
            "pipeline",
            "warehouse",
            "forecast",
            "cashflow",
            "report",
            "run",
            "spark",
            "notify",
            "scenarios",
            "targets",
        },
    )
    sources_raw = where.require(raw, "", "sources", list)
    if not sources_raw:
        raise ConfigError(f"{path}: [[sources]] is empty; add at least one source")
    sources = tuple(
        _parse_source(s, f"sources[{i}]", base, where) for i, s in enumerate(sources_raw)
    )
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: sources[].name must be unique, got {names}")
    pipeline_raw = where.optional(raw, "", "pipeline", dict)
    pipeline = _parse_pipeline({} if pipeline_raw is None else pipeline_raw, base, where)
    report = _parse_report(raw.get("report", {}), base, where)
    return Config(
        path=path,
        sources=tuple(replace(s, currency=s.currency or pipeline.currency) for s in sources),
        pipeline=pipeline,
        warehouse=_parse_warehouse(raw.get("warehouse", {}), base, where),
        forecast=_parse_forecast(raw.get("forecast", {}), where),
        cashflow=_parse_cashflow(raw.get("cashflow", {}), where),
        report=report,
        run=_parse_run(raw.get("run", {}), where),
        spark=_parse_spark(raw.get("spark", {}), base, where),
        notify=_parse_notify(raw["notify"], where) if "notify" in raw else None,
        scenarios=_parse_scenarios(raw.get("scenarios", {}), where),
        targets=_parse_targets(raw.get("targets", []), report, base, where),
    )


class _Where:
    """Validation helpers whose messages name the config file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{key}' {problem}")

    def only_keys(self, table: Any, prefix: str, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            raise self.fail(prefix.rstrip("."), "must be a table")
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{key}", f"is not a known setting; expected one of {sorted(allowed)}"
                )

    def require(self, table: dict[str, Any], prefix: str, key: str, kind: type) -> Any:
        if key not in table:
            raise self.fail(f"{prefix}{key}", "is required but missing")
        return self.typed(table, prefix, key, kind)

    def typed(self, table: dict[str, Any], prefix: str, key: str, kind: type) -> Any:
        value = table[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            raise self.fail(f"{prefix}{key}", f"must be a {kind.__name__}, got {value!r}")
        return value

    def optional(self, table: dict[str, Any], prefix: str, key: str, kind: type) -> Any:
        return self.typed(table, prefix, key, kind) if key in table else None

    def path_setting(self, table: dict[str, Any], prefix: str, key: str, base: Path) -> Path | None:
        """An optional path setting; an empty one would name the config's own folder."""
        value = self.optional(table, prefix, key, str)
        if value is None:
            return None
        if not value.strip():
            raise self.fail(
                f"{prefix}{key}", "is empty; name a file or folder, or leave the key out"
            )
        return _resolve(base, value)

    def currency(self, table: dict[str, Any], prefix: str, key: str) -> str | None:
        value = self.optional(table, prefix, key, str)
        if value is not None and not CURRENCY_CODE.fullmatch(value):
            raise self.fail(
                f"{prefix}{key}", f'must be a 3-letter currency code like "USD", got {value!r}'
            )
        return value

    def strings(self, table: dict[str, Any], prefix: str, key: str) -> tuple[str, ...]:
        values = self.typed(table, prefix, key, list)
        if not all(isinstance(v, str) and v for v in values):
            raise self.fail(f"{prefix}{key}", "must be a list of non-empty strings")
        return tuple(values)


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else base / p


def _parse_source(raw: Any, prefix: str, base: Path, where: _Where) -> Source:
    p = prefix + "."
    where.only_keys(
        raw,
        p,
        {
            "name",
            "adapter",
            "path",
            "history",
            "columns",
            "history_columns",
            "status",
            "date_format",
            "sheet",
            "decimal",
            "date_order",
            "encoding",
            "activities",
            "activity_columns",
            "currency",
            "leads",
            "lead_columns",
        },
    )
    adapter = where.require(raw, p, "adapter", str)
    if adapter not in ADAPTERS:
        raise where.fail(f"{p}adapter", f"is '{adapter}'; supported adapters: {list(ADAPTERS)}")
    columns = dict(raw.get("columns", {}))
    where.only_keys(columns, f"{p}columns.", set(DEAL_COLUMNS))
    for key in columns:
        where.typed(columns, f"{p}columns.", key, str)
    history_columns = dict(raw.get("history_columns", {}))
    where.only_keys(history_columns, f"{p}history_columns.", set(HISTORY_COLUMNS))
    for key in history_columns:
        where.typed(history_columns, f"{p}history_columns.", key, str)
    # Columns left out are found by header: CRM adapters through their aliases, the generic
    # adapter through ingest/aliases/generic.toml (the configured ones always win).
    activity_columns = dict(raw.get("activity_columns", {}))
    where.only_keys(activity_columns, f"{p}activity_columns.", set(ACTIVITY_COLUMNS))
    for key in activity_columns:
        where.typed(activity_columns, f"{p}activity_columns.", key, str)
    for key in REQUIRED_ACTIVITY_COLUMNS:
        activity_columns.setdefault(key, key)
    # Without [sources.status], won/lost come from the CRM's own flags or from the status or
    # stage values (ingest/inference.py); a given table replaces them and must be complete.
    status_present = "status" in raw
    status_raw = where.optional(raw, p, "status", dict) or {}
    where.only_keys(status_raw, f"{p}status.", {"won", "lost"})
    status = StatusMapping(
        won=where.strings(status_raw, f"{p}status.", "won") if "won" in status_raw else (),
        lost=where.strings(status_raw, f"{p}status.", "lost") if "lost" in status_raw else (),
    )
    if status_present and (not status.won or not status.lost):
        raise where.fail(f"{p}status", "needs both 'won' and 'lost' lists of values")
    decimal = where.optional(raw, p, "decimal", str)
    if decimal is not None and decimal not in DECIMAL_SEPARATORS:
        raise where.fail(f"{p}decimal", f"must be one of {list(DECIMAL_SEPARATORS)}")
    date_order = where.optional(raw, p, "date_order", str)
    if date_order is not None and date_order not in DATE_ORDERS:
        raise where.fail(f"{p}date_order", f"must be one of {list(DATE_ORDERS)}")
    encoding = where.optional(raw, p, "encoding", str)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise where.fail(
                f"{p}encoding", f"'{encoding}' is not a known text encoding (e.g. \"cp1252\")"
            ) from None
    where.require(raw, p, "path", str)
    path = where.path_setting(raw, p, "path", base)
    assert path is not None  # required above
    return Source(
        name=where.require(raw, p, "name", str),
        adapter=adapter,
        path=path,
        history=where.path_setting(raw, p, "history", base),
        columns=columns,
        history_columns=history_columns,
        status=status,
        date_format=where.optional(raw, p, "date_format", str),
        sheet=where.optional(raw, p, "sheet", str),
        decimal=decimal,
        date_order=date_order,
        encoding=encoding,
        activities=where.path_setting(raw, p, "activities", base),
        activity_columns=activity_columns,
        currency=where.currency(raw, p, "currency"),
        leads=where.path_setting(raw, p, "leads", base),
        lead_columns=_parse_lead_columns(raw, p, where),
    )


def _parse_lead_columns(raw: dict[str, Any], p: str, where: _Where) -> dict[str, str]:
    """`[sources.lead_columns]`: canonical lead column -> header in the leads file."""
    lead_columns = dict(where.optional(raw, p, "lead_columns", dict) or {})
    where.only_keys(lead_columns, f"{p}lead_columns.", set(LEAD_COLUMNS))
    for key in lead_columns:
        where.typed(lead_columns, f"{p}lead_columns.", key, str)
    return lead_columns


def _parse_pipeline(raw: dict[str, Any], base: Path, where: _Where) -> PipelineSettings:
    p = "pipeline."
    where.only_keys(
        raw,
        p,
        {
            "stages",
            "currency",
            "lookback_days",
            "rates",
            "probabilities",
            "fiscal_year_start_month",
            "rates_file",
            "lead_expiry_days",
        },
    )
    stages = where.strings(raw, p, "stages") if "stages" in raw else None
    if stages is not None and not stages:
        raise where.fail(
            f"{p}stages", "is empty: list the open stages in order, or leave it out to infer them"
        )
    if stages is not None and len(set(stages)) != len(stages):
        raise where.fail(f"{p}stages", "lists a stage twice")
    currency = where.optional(raw, p, "currency", str)
    lookback = where.optional(raw, p, "lookback_days", int)
    lookback = 365 if lookback is None else lookback
    if not LOOKBACK_DAYS[0] <= lookback <= LOOKBACK_DAYS[1]:
        raise where.fail(
            f"{p}lookback_days",
            f"must be between {LOOKBACK_DAYS[0]} and {LOOKBACK_DAYS[1]} days (ten years), "
            f"got {lookback}",
        )
    rates = _parse_rates(where.optional(raw, p, "rates", dict) or {}, f"{p}rates.", where)
    probabilities = None
    if "probabilities" in raw:
        values = where.typed(raw, p, "probabilities", list)
        if stages is None:
            raise where.fail(
                f"{p}probabilities", "needs [pipeline] stages: one probability per listed stage"
            )
        if len(values) != len(stages) or not all(
            isinstance(v, int | float) and 0 <= v <= 1 for v in values
        ):
            raise where.fail(
                f"{p}probabilities", "must list one probability between 0 and 1 per stage"
            )
        probabilities = tuple(float(v) for v in values)
    rates_file = where.path_setting(raw, p, "rates_file", base)
    fiscal_start = where.optional(raw, p, "fiscal_year_start_month", int)
    fiscal_start = 1 if fiscal_start is None else fiscal_start
    if not 1 <= fiscal_start <= 12:
        raise where.fail(
            f"{p}fiscal_year_start_month", "must be a month number from 1 (January) to 12"
        )
    expiry = where.optional(raw, p, "lead_expiry_days", int)
    expiry = PipelineSettings.lead_expiry_days if expiry is None else expiry
    if not LEAD_EXPIRY_DAYS[0] <= expiry <= LEAD_EXPIRY_DAYS[1]:
        raise where.fail(
            f"{p}lead_expiry_days",
            f"must be between {LEAD_EXPIRY_DAYS[0]} and {LEAD_EXPIRY_DAYS[1]} days, got {expiry}",
        )
    return PipelineSettings(
        stages=stages,
        currency=currency,
        lookback_days=lookback,
        rates=rates,
        probabilities=probabilities,
        fiscal_year_start_month=fiscal_start,
        rates_file=rates_file,
        lead_expiry_days=expiry,
    )


def _parse_rates(raw: dict[str, Any], p: str, where: _Where) -> dict[str, float]:
    """Rates to the reporting currency: finite and positive (NaN or -1 would price every deal)."""
    rates = {}
    for code in raw:
        if not CURRENCY_CODE.fullmatch(code.upper()):
            raise where.fail(f"{p}{code}", 'must be a 3-letter currency code like "EUR"')
        rate = where.typed(raw, p, code, float)
        if not (math.isfinite(rate) and rate > 0):
            raise where.fail(
                f"{p}{code}",
                f"must be a positive number (units of the reporting currency per {code}), "
                f"got {rate}",
            )
        rates[code] = rate
    return rates


def _parse_warehouse(raw: Any, base: Path, where: _Where) -> WarehouseSettings:
    p = "warehouse."
    where.only_keys(raw, p, {"path", "memory_limit", "temp_directory", "threads", "engine"})
    engine = where.optional(raw, p, "engine", str) or "duckdb"
    if engine not in ENGINES:
        raise where.fail(f"{p}engine", f"must be one of {list(ENGINES)}, got {engine!r}")
    return WarehouseSettings(
        path=where.path_setting(raw, p, "path", base),
        memory_limit=where.optional(raw, p, "memory_limit", str),
        temp_directory=where.path_setting(raw, p, "temp_directory", base),
        threads=where.optional(raw, p, "threads", int),
        engine=engine,
    )


def _parse_spark(raw: Any, base: Path, where: _Where) -> SparkSettings:
    p = "spark."
    where.only_keys(raw, p, {"master", "staging", "conf"})
    master = where.optional(raw, p, "master", str) or SparkSettings.master
    if not SPARK_MASTER.fullmatch(master):
        raise where.fail(
            f"{p}master",
            f"must be local[*], local[N], spark://host:port or sc://host:port, got {master!r}",
        )
    staging = where.optional(raw, p, "staging", str)
    if staging is not None and not staging.strip():
        raise where.fail(f"{p}staging", "is empty; name a folder or a URI, or leave the key out")
    if staging is not None and is_folder(staging):
        staging = str(_resolve(base, staging))
    conf_raw = raw.get("conf", {})
    if not isinstance(conf_raw, dict):
        raise where.fail(f"{p}conf", "must be a table of Spark settings")
    conf: dict[str, str] = {}
    for key, value in conf_raw.items():
        if isinstance(value, dict | list):
            raise where.fail(
                f"{p}conf.{key}",
                'must be a string, number or boolean; quote a dotted name: "spark.x.y" = ...',
            )
        conf[key] = str(value).lower() if isinstance(value, bool) else str(value)
    zone = conf.get("spark.sql.session.timeZone", SPARK_SESSION_TIME_ZONE)
    if zone != SPARK_SESSION_TIME_ZONE:
        raise where.fail(
            f'{p}conf."spark.sql.session.timeZone"',
            f"must be {SPARK_SESSION_TIME_ZONE}: the warehouse's times are UTC; leave it out",
        )
    return SparkSettings(master=master, staging=staging, conf=conf)


def _parse_forecast(raw: Any, where: _Where) -> ForecastSettings:
    p = "forecast."
    where.only_keys(
        raw,
        p,
        {
            "horizon_months",
            "simulations",
            "seed",
            "method",
            "backtest_in_run",
            "impute_missing_amounts",
        },
    )
    defaults = ForecastSettings()
    horizon = where.optional(raw, p, "horizon_months", int) or defaults.horizon_months
    if not 1 <= horizon <= 36:
        raise where.fail(f"{p}horizon_months", "must be between 1 and 36")
    simulations = where.optional(raw, p, "simulations", int) or defaults.simulations
    if not 100 <= simulations <= 1_000_000:
        raise where.fail(f"{p}simulations", "must be between 100 and 1000000")
    seed = where.optional(raw, p, "seed", int)
    if seed is not None and seed < 0:
        raise where.fail(f"{p}seed", "must be a non-negative integer")
    method = where.optional(raw, p, "method", str) or defaults.method
    if method not in FORECAST_METHODS:
        raise where.fail(f"{p}method", f"is '{method}'; use one of {list(FORECAST_METHODS)}")
    backtest_in_run = where.optional(raw, p, "backtest_in_run", bool)
    impute = where.optional(raw, p, "impute_missing_amounts", bool)
    return ForecastSettings(
        horizon_months=horizon,
        simulations=simulations,
        seed=seed,
        method=method,
        backtest_in_run=defaults.backtest_in_run if backtest_in_run is None else backtest_in_run,
        impute_missing_amounts=defaults.impute_missing_amounts if impute is None else impute,
    )


PAYMENT_TERM_KEYS = {
    "billing",
    "term_months",
    "milestones",
    "payment_terms_days",
    "collection_curve",
    "bad_debt",
}


def _parse_cashflow(raw: Any, where: _Where) -> CashflowSettings:
    p = "cashflow."
    where.only_keys(raw, p, PAYMENT_TERM_KEYS | {"deal_types"})
    default = _parse_payment_terms(raw, p, PaymentTerms(), where)
    types_raw = where.optional(raw, p, "deal_types", dict) or {}
    deal_types = {}
    for name, terms_raw in types_raw.items():
        prefix = f"{p}deal_types.{name}."
        where.only_keys(terms_raw, prefix, PAYMENT_TERM_KEYS)
        deal_types[name] = _parse_payment_terms(terms_raw, prefix, default, where)
    return CashflowSettings(default=default, deal_types=deal_types)


def _parse_payment_terms(
    raw: dict[str, Any], p: str, inherited: PaymentTerms, where: _Where
) -> PaymentTerms:
    """Terms from one table; keys it leaves out come from `inherited` ([cashflow] defaults)."""
    billing = where.optional(raw, p, "billing", str) or inherited.billing
    if billing not in BILLING_SCHEDULES:
        raise where.fail(f"{p}billing", f"is '{billing}'; use one of {list(BILLING_SCHEDULES)}")
    term = where.optional(raw, p, "term_months", int) or inherited.term_months
    if not 1 <= term <= 120:
        raise where.fail(f"{p}term_months", "must be between 1 and 120 months")
    days = where.optional(raw, p, "payment_terms_days", int)
    days = inherited.payment_terms_days if days is None else days
    if not 0 <= days <= 365:
        raise where.fail(f"{p}payment_terms_days", "must be between 0 and 365 days")
    curve = inherited.collection_curve
    if "collection_curve" in raw:
        values = where.typed(raw, p, "collection_curve", list)
        if (
            len(values) != len(COLLECTION_CURVE_DAYS)
            or not all(isinstance(v, int | float) and v >= 0 for v in values)
            or abs(sum(values) - 1.0) > 1e-6
        ):
            raise where.fail(
                f"{p}collection_curve",
                "must list 4 shares (paid 0, 30, 60, 90 days past due) that add up to 1",
            )
        curve = tuple(float(v) for v in values)
    bad_debt = where.optional(raw, p, "bad_debt", float)
    bad_debt = inherited.bad_debt if bad_debt is None else bad_debt
    if not 0 <= bad_debt < 1:
        raise where.fail(f"{p}bad_debt", "must be a share from 0 up to (not including) 1")
    milestones = _parse_milestones(raw, p, where) if "milestones" in raw else ()
    if billing == "milestones" and not milestones:
        raise where.fail(f"{p}milestones", 'is required with billing = "milestones"')
    if milestones and billing != "milestones":
        raise where.fail(f"{p}milestones", 'is only used with billing = "milestones"')
    return PaymentTerms(billing, term, milestones, days, curve, bad_debt)


def _parse_milestones(raw: dict[str, Any], p: str, where: _Where) -> tuple[tuple[int, float], ...]:
    values = where.typed(raw, p, "milestones", list)
    ok = all(
        isinstance(v, list)
        and len(v) == 2
        and isinstance(v[0], int)
        and not isinstance(v[0], bool)
        and 0 <= v[0] <= 120
        and isinstance(v[1], int | float)
        and v[1] > 0
        for v in values
    )
    if not values or not ok or abs(sum(v[1] for v in values) - 1.0) > 1e-6:
        raise where.fail(
            f"{p}milestones",
            "must list [months after booking (0-120), share] pairs whose shares add up to 1",
        )
    return tuple((int(m), float(s)) for m, s in values)


REPORT_LANGUAGES = ("en", "it")
QUARTER_KEY = re.compile(r"(\d{4})-Q([1-4])")


def _parse_report(raw: Any, base: Path, where: _Where) -> ReportSettings:
    p = "report."
    where.only_keys(raw, p, {"output_dir", "title", "language", "targets"})
    out = where.path_setting(raw, p, "output_dir", base)
    language = where.optional(raw, p, "language", str) or "en"
    if language not in REPORT_LANGUAGES:
        raise where.fail(f"{p}language", f"is '{language}'; use one of {list(REPORT_LANGUAGES)}")
    targets_raw = where.optional(raw, p, "targets", dict) or {}
    targets = {}
    for key in targets_raw:
        match = QUARTER_KEY.fullmatch(key)
        if not match:
            raise where.fail(f"{p}targets.{key}", 'must be a quarter written like "2026-Q4"')
        amount = where.typed(targets_raw, f"{p}targets.", key, float)
        if amount <= 0:
            raise where.fail(f"{p}targets.{key}", "must be a positive amount")
        targets[(int(match.group(1)), int(match.group(2)))] = amount
    return ReportSettings(
        output_dir=out or Path("reports"),
        title=where.optional(raw, p, "title", str),
        language=language,
        targets=targets,
    )


def _parse_run(raw: Any, where: _Where) -> RunSettings:
    p = "run."
    where.only_keys(raw, p, {"fail_on_rejected_rows", "stale_after_days", "keep_reports"})
    defaults = RunSettings()
    fail = where.optional(raw, p, "fail_on_rejected_rows", bool)
    stale = where.optional(raw, p, "stale_after_days", int)
    keep = where.optional(raw, p, "keep_reports", int)
    if stale is not None and stale <= 0:
        raise where.fail(f"{p}stale_after_days", "must be a positive number of days")
    if keep is not None and keep < 0:
        raise where.fail(f"{p}keep_reports", "must be 0 (keep all) or a positive number")
    return RunSettings(
        fail_on_rejected_rows=defaults.fail_on_rejected_rows if fail is None else fail,
        stale_after_days=defaults.stale_after_days if stale is None else stale,
        keep_reports=defaults.keep_reports if keep is None else keep,
    )


ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _parse_notify(raw: Any, where: _Where) -> NotifySettings:
    p = "notify."
    if isinstance(raw, dict):
        for key in raw:
            if key in NOTIFY_SECRET_KEYS:
                raise where.fail(
                    f"{p}{key}",
                    "is refused: credentials never go in the config; put them in environment "
                    "variables and name those in smtp_user_env and smtp_password_env",
                )
    where.only_keys(
        raw,
        p,
        {
            "smtp_host",
            "smtp_port",
            "starttls",
            "from",
            "to",
            "smtp_user_env",
            "smtp_password_env",
            "webhook_url",
            "attach",
        },
    )
    defaults = NotifySettings()
    host = where.optional(raw, p, "smtp_host", str)
    port = where.optional(raw, p, "smtp_port", int)
    if port is not None and not 1 <= port <= 65535:
        raise where.fail(f"{p}smtp_port", f"must be a port number from 1 to 65535, got {port}")
    to = where.strings(raw, p, "to") if "to" in raw else ()
    sender = where.optional(raw, p, "from", str)
    if host is not None and (not to or not sender):
        raise where.fail(
            f"{p}{'to' if not to else 'from'}",
            "is required with smtp_host: the digest's sender (from) and recipients (to)",
        )
    if host is None and (to or sender):
        raise where.fail(f"{p}smtp_host", "is required to send e-mail to [notify] to")
    webhook = where.optional(raw, p, "webhook_url", str)
    if webhook is not None and not webhook.startswith(("https://", "http://")):
        raise where.fail(f"{p}webhook_url", f"must be an http(s):// URL, got {webhook!r}")
    if host is None and webhook is None:
        raise where.fail(p.rstrip("."), "needs smtp_host (with from and to) or webhook_url")
    for key in ("smtp_user_env", "smtp_password_env"):
        name = where.optional(raw, p, key, str)
        if name is not None and not ENV_VAR_NAME.fullmatch(name):
            raise where.fail(
                f"{p}{key}",
                f"must name an environment variable (like SMTP_PASSWORD), got {name!r}",
            )
    attach = where.strings(raw, p, "attach") if "attach" in raw else defaults.attach
    unknown = sorted(set(attach) - set(NOTIFY_ATTACHMENTS))
    if unknown:
        raise where.fail(
            f"{p}attach", f"lists {unknown}; choose from {list(NOTIFY_ATTACHMENTS)} (or [])"
        )
    starttls = where.optional(raw, p, "starttls", bool)
    return NotifySettings(
        smtp_host=host,
        smtp_port=defaults.smtp_port if port is None else port,
        starttls=defaults.starttls if starttls is None else starttls,
        from_address=sender,
        to=to,
        smtp_user_env=where.optional(raw, p, "smtp_user_env", str),
        smtp_password_env=where.optional(raw, p, "smtp_password_env", str),
        webhook_url=webhook,
        attach=tuple(dict.fromkeys(attach)),
    )


def _parse_scenarios(raw: Any, where: _Where) -> tuple[Scenario, ...]:
    """[scenarios.NAME] tables, in the config's order."""
    if not isinstance(raw, dict):
        raise where.fail("scenarios", "must be a table of [scenarios.NAME] tables")
    return tuple(_parse_scenario(name, table, where) for name, table in raw.items())


def _parse_scenario(name: str, raw: Any, where: _Where) -> Scenario:
    p = f"scenarios.{name}."
    if not SCENARIO_NAME.fullmatch(name):
        raise where.fail(
            f"scenarios.{name}",
            "is not a valid scenario name; use lowercase letters, digits, '_' and '-' only",
        )
    where.only_keys(raw, p, {*SCENARIO_FACTORS, "exclude_deals", "added_reps", "ramp_months"})
    factors = {}
    for key in SCENARIO_FACTORS:
        value = where.optional(raw, p, key, float)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise where.fail(f"{p}{key}", f"must be a positive number (1 = unchanged), got {value}")
        factors[key] = 1.0 if value is None else value
    excluded = where.strings(raw, p, "exclude_deals") if "exclude_deals" in raw else ()
    added = where.optional(raw, p, "added_reps", int)
    ramp = where.optional(raw, p, "ramp_months", int)
    if added is not None and added < 0:
        raise where.fail(f"{p}added_reps", f"must be 0 or more reps, got {added}")
    if ramp is not None and ramp < 0:
        raise where.fail(f"{p}ramp_months", f"must be 0 (no ramp) or more months, got {ramp}")
    return Scenario(
        name=name,
        **factors,
        exclude_deals=excluded,
        added_reps=added or 0,
        ramp_months=ramp or 0,
    )


def _parse_targets(
    raw: Any, report: ReportSettings, base: Path, where: _Where
) -> tuple[Target, ...]:
    """Top-level `[[targets]]` or `targets = "targets.csv"`, then the `[report] targets` quarters
    as company-wide targets (their meaning unchanged); one target per period, owner and pipeline."""
    if isinstance(raw, str):
        targets = _read_targets_file(where.path_setting({"targets": raw}, "", "targets", base))
    elif isinstance(raw, list):
        targets = []
        for i, entry in enumerate(raw):
            p = f"targets[{i}]."
            where.only_keys(entry, p, set(TARGET_COLUMNS))
            where.require(entry, p, "period", str)
            where.require(entry, p, "amount", float)
            targets.append(
                _target(
                    {k: where.typed(entry, p, k, float if k == "amount" else str) for k in entry},
                    lambda column, problem, p=p: where.fail(f"{p}{column}", problem),
                )
            )
    else:
        raise where.fail("targets", 'must be [[targets]] tables or a CSV file name like "t.csv"')
    for (year, quarter), amount in report.targets.items():
        targets.append(Target(f"{year}-Q{quarter}", amount))
    seen: set[tuple[str, str | None, str | None]] = set()
    for target in targets:
        key = (target.period, target.owner, target.pipeline)
        if key in seen:
            who = target.owner or target.pipeline or "company-wide"
            raise ConfigError(
                f"{where.path}: key 'targets' sets the target of {target.period} ({who}) twice "
                "(in [[targets]], the targets file or [report] targets); keep one"
            )
        seen.add(key)
    return tuple(targets)


def _read_targets_file(path: Path | None) -> list[Target]:
    """A CSV of targets: header period,amount[,owner][,pipeline]; errors name file, row, column."""
    assert path is not None  # a string was given
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(
            f"{path}: targets file cannot be read ({exc.strerror}); fix key 'targets'"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: targets file is not UTF-8 text; save it as UTF-8") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ConfigError(f"{path}: targets file is empty; add a header period,amount")
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in TARGET_COLUMNS]
    if unknown or not {"period", "amount"} <= set(header):
        raise ConfigError(
            f"{path}: row 1 (header) must name the columns period and amount, optionally owner "
            f"or pipeline; got {header}"
        )
    targets = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigError(
                f"{path}: row {number} has {len(row)} cells, the header {len(header)}; "
                "one cell per column"
            )
        values: dict[str, Any] = {
            h: c.strip() for h, c in zip(header, row, strict=True) if c.strip()
        }

        def fail(column: str, problem: str, number: int = number) -> ConfigError:
            return ConfigError(f"{path}: row {number}, column '{column}' {problem}")

        if "amount" in values:
            try:
                values["amount"] = float(values["amount"])
            except ValueError:
                raise fail("amount", f"must be a number, got {values['amount']!r}") from None
        targets.append(_target(values, fail))
    return targets


def _target(values: dict[str, Any], problem: Callable[[str, str], ConfigError]) -> Target:
    """One target from its values; `problem(column, text)` says where (config key or file row)."""
    period, amount = values.get("period"), values.get("amount")
    if period is None:
        raise problem("period", "is required but missing")
    if not TARGET_PERIOD.fullmatch(period):
        raise problem(
            "period",
            f'must be a fiscal quarter "2026-Q4", a month "2026-11" or a fiscal year "2027", '
            f"got {period!r}",
        )
    if amount is None:
        raise problem("amount", "is required but missing")
    if not (math.isfinite(amount) and amount > 0):
        raise problem("amount", f"must be a positive amount, got {amount}")
    owner, pipeline = values.get("owner"), values.get("pipeline")
    for column in ("owner", "pipeline"):
        if values.get(column) == "":  # a blank CSV cell never gets here: it means none
            raise problem(column, "is empty; name it as the export does, or leave the key out")
    if owner and pipeline:
        raise problem(
            "pipeline", "cannot be set with owner: a target is for one owner or one pipeline"
        )
    return Target(period, float(amount), owner or None, pipeline or None)
