"""The TOML configuration: one file describes sources, stages, currency, windows and outputs.

Relative paths inside the file are resolved against the file's own folder, so a config can sit next
to the exports it describes. Unknown keys and missing required keys are errors naming the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline_analytics.errors import ConfigError

ADAPTERS = ("generic",)

# Canonical deal columns a generic source can map; the three required ones have no default header.
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
)
REQUIRED_DEAL_COLUMNS = ("deal_id", "stage", "created_at")
HISTORY_COLUMNS = ("deal_id", "stage", "changed_at")


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


@dataclass(frozen=True)
class PipelineSettings:
    stages: tuple[str, ...]
    currency: str
    lookback_days: int = 365
    rates: dict[str, float] = field(default_factory=dict)
    probabilities: tuple[float, ...] | None = None


@dataclass(frozen=True)
class WarehouseSettings:
    path: Path | None
    memory_limit: str | None
    temp_directory: Path | None
    threads: int | None


@dataclass(frozen=True)
class ForecastSettings:
    horizon_months: int = 6


@dataclass(frozen=True)
class ReportSettings:
    output_dir: Path = Path("reports")
    title: str = "Pipeline report"


@dataclass(frozen=True)
class Config:
    path: Path
    sources: tuple[Source, ...]
    pipeline: PipelineSettings
    warehouse: WarehouseSettings
    forecast: ForecastSettings
    report: ReportSettings


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
    where.only_keys(raw, "", {"sources", "pipeline", "warehouse", "forecast", "report"})
    sources_raw = where.require(raw, "", "sources", list)
    if not sources_raw:
        raise ConfigError(f"{path}: [[sources]] is empty; add at least one source")
    sources = tuple(
        _parse_source(s, f"sources[{i}]", base, where) for i, s in enumerate(sources_raw)
    )
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: sources[].name must be unique, got {names}")
    return Config(
        path=path,
        sources=sources,
        pipeline=_parse_pipeline(where.require(raw, "", "pipeline", dict), where),
        warehouse=_parse_warehouse(raw.get("warehouse", {}), base, where),
        forecast=_parse_forecast(raw.get("forecast", {}), where),
        report=_parse_report(raw.get("report", {}), base, where),
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
        },
    )
    adapter = where.require(raw, p, "adapter", str)
    if adapter not in ADAPTERS:
        raise where.fail(f"{p}adapter", f"is '{adapter}'; supported adapters: {list(ADAPTERS)}")
    columns = dict(raw.get("columns", {}))
    where.only_keys(columns, f"{p}columns.", set(DEAL_COLUMNS))
    for key in columns:
        where.typed(columns, f"{p}columns.", key, str)
    for key in REQUIRED_DEAL_COLUMNS:
        columns.setdefault(key, key)
    history_columns = dict(raw.get("history_columns", {}))
    where.only_keys(history_columns, f"{p}history_columns.", set(HISTORY_COLUMNS))
    for key in HISTORY_COLUMNS:
        history_columns.setdefault(key, key)
    status_raw = where.require(raw, p, "status", dict)
    where.only_keys(status_raw, f"{p}status.", {"won", "lost"})
    status = StatusMapping(
        won=where.strings(status_raw, f"{p}status.", "won") if "won" in status_raw else (),
        lost=where.strings(status_raw, f"{p}status.", "lost") if "lost" in status_raw else (),
    )
    if not status.won or not status.lost:
        raise where.fail(f"{p}status", "needs both 'won' and 'lost' lists of values")
    history = where.optional(raw, p, "history", str)
    return Source(
        name=where.require(raw, p, "name", str),
        adapter=adapter,
        path=_resolve(base, where.require(raw, p, "path", str)),
        history=_resolve(base, history) if history else None,
        columns=columns,
        history_columns=history_columns,
        status=status,
        date_format=where.optional(raw, p, "date_format", str),
    )


def _parse_pipeline(raw: dict[str, Any], where: _Where) -> PipelineSettings:
    p = "pipeline."
    where.only_keys(raw, p, {"stages", "currency", "lookback_days", "rates", "probabilities"})
    stages = where.strings(raw, p, "stages") if "stages" in raw else None
    if not stages:
        raise where.fail(f"{p}stages", "is required: list the open stages in order")
    if len(set(stages)) != len(stages):
        raise where.fail(f"{p}stages", "lists a stage twice")
    currency = where.require(raw, p, "currency", str)
    lookback = where.optional(raw, p, "lookback_days", int) or 365
    if lookback <= 0:
        raise where.fail(f"{p}lookback_days", "must be a positive number of days")
    rates_raw = where.optional(raw, p, "rates", dict) or {}
    rates = {k: where.typed(rates_raw, f"{p}rates.", k, float) for k in rates_raw}
    probabilities = None
    if "probabilities" in raw:
        values = where.typed(raw, p, "probabilities", list)
        if len(values) != len(stages) or not all(
            isinstance(v, int | float) and 0 <= v <= 1 for v in values
        ):
            raise where.fail(
                f"{p}probabilities", "must list one probability between 0 and 1 per stage"
            )
        probabilities = tuple(float(v) for v in values)
    return PipelineSettings(
        stages=stages,
        currency=currency,
        lookback_days=lookback,
        rates=rates,
        probabilities=probabilities,
    )


def _parse_warehouse(raw: Any, base: Path, where: _Where) -> WarehouseSettings:
    p = "warehouse."
    where.only_keys(raw, p, {"path", "memory_limit", "temp_directory", "threads"})
    path = where.optional(raw, p, "path", str)
    temp = where.optional(raw, p, "temp_directory", str)
    return WarehouseSettings(
        path=_resolve(base, path) if path else None,
        memory_limit=where.optional(raw, p, "memory_limit", str),
        temp_directory=_resolve(base, temp) if temp else None,
        threads=where.optional(raw, p, "threads", int),
    )


def _parse_forecast(raw: Any, where: _Where) -> ForecastSettings:
    p = "forecast."
    where.only_keys(raw, p, {"horizon_months"})
    horizon = where.optional(raw, p, "horizon_months", int) or 6
    if not 1 <= horizon <= 36:
        raise where.fail(f"{p}horizon_months", "must be between 1 and 36")
    return ForecastSettings(horizon_months=horizon)


def _parse_report(raw: Any, base: Path, where: _Where) -> ReportSettings:
    p = "report."
    where.only_keys(raw, p, {"output_dir", "title"})
    out = where.optional(raw, p, "output_dir", str)
    return ReportSettings(
        output_dir=_resolve(base, out) if out else Path("reports"),
        title=where.optional(raw, p, "title", str) or "Pipeline report",
    )
