"""`init`: point the tool at an export, get a commented config and a summary of what is in it.

The CRM is recognised from each file's headers (every CRM adapter tries; the one that reads the
most columns of the deals file wins, else the generic adapter with its header aliases), and each
file's kind with it. Then the export is ingested into a throwaway warehouse with the same inference
`run` does, and what was inferred (mapping, won/lost, stage order, currency) is written into the
config, each value with a comment saying what decided it. The summary says what the export lacks
and what that costs.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline_analytics.config import Source, StatusMapping, parse_config
from pipeline_analytics.errors import InputError
from pipeline_analytics.ingest import inference, ingest_sources
from pipeline_analytics.ingest.adapters import CRM_ADAPTERS
from pipeline_analytics.ingest.columns import resolve_kind
from pipeline_analytics.ingest.files import (
    EXCEL_SUFFIXES,
    JSON_SUFFIXES,
    PARQUET_SUFFIXES,
    TEXT_SUFFIXES,
    fingerprint,
    peek_headers,
)
from pipeline_analytics.ingest.inferred_settings import WAREHOUSE
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import connect

log = logging.getLogger(__name__)

EXPORT_SUFFIXES = TEXT_SUFFIXES | EXCEL_SUFFIXES | PARQUET_SUFFIXES | JSON_SUFFIXES
GENERIC_KEYS = {"deals": "path", "history": "history", "activities": "activities"}


@dataclass
class Recognised:
    """The export as recognised: its adapter and each file's kind."""

    adapter: str
    files: dict[str, list[Path]] = field(default_factory=dict)  # kind -> files
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)
    activity_columns: dict[str, str] = field(default_factory=dict)


@dataclass
class Findings:
    """What the throwaway ingest found, read back from its warehouse."""

    deals: int
    outcomes: dict[str, int]
    stages: list[tuple[str, str, int | None, str | None, int]]  # pipeline, stage, order, basis, n
    first_created: datetime | None
    last_event: datetime | None
    inferred: dict[tuple[str, str], tuple[str, str]]  # (source, setting) -> (value, basis)
    history_changes: int
    with_amount: int
    without_created: int
    rows_rejected: int


def init_config(paths: list[Path], out: Path, *, force: bool) -> str:
    """Recognise, ingest into a temporary warehouse, write the config; returns the summary text."""
    if out.exists() and not force:
        raise InputError(
            f"{out} already exists; pass --force to overwrite it, or --out FILE to write elsewhere"
        )
    recognised = recognise(export_files(paths))
    raw = source_settings(recognised, out.resolve().parent)
    config = parse_config({"sources": [raw]}, out)
    with tempfile.TemporaryDirectory(prefix="pipeline-analytics-init-") as tmp:
        con = connect(Path(tmp) / "init.duckdb")
        try:
            ingest_sources(con, config, temp_dir=Path(tmp) / "tmp")
            findings = read_findings(con)
        finally:
            con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_config(raw, recognised, findings, paths), encoding="utf-8")
    return summary(recognised, findings, out)


def export_files(paths: list[Path]) -> list[Path]:
    """The files named, and the export files of the folders named (hidden files left out)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and not p.name.startswith(".")
                and p.suffix.lower() in EXPORT_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder; name the export's files or folder")
    if not files:
        raise InputError(
            f"no export file (CSV, TSV, XLSX, Parquet, JSON) in {', '.join(map(str, paths))}"
        )
    return files


def recognise(files: list[Path]) -> Recognised:
    """The adapter that reads the export, and the kind of each of its files."""
    headers: dict[Path, list[str]] = {}
    skipped: list[tuple[Path, str]] = []
    for path in files:
        try:
            headers[path] = peek_headers(path, fingerprint(path))
        except InputError as exc:
            skipped.append((path, str(exc)))
    best: tuple[int, str] | None = None
    for names in headers.values():
        for adapter, score in _deal_scores(names).items():
            if best is None or score > best[0] or (score == best[0] and adapter != "generic"):
                best = (score, adapter)
    if best is None:
        raise InputError(
            "no deals file found: no file has a deal id, a stage and a creation date under a "
            f"header this tool knows (files: {', '.join(p.name for p in files)}); write a config "
            "with [sources.columns] (see docs/configuration.md)"
        )
    recognised = Recognised(adapter=best[1], skipped=skipped)
    for path, names in headers.items():
        kind = _kind(recognised.adapter, names)
        if kind is None:
            recognised.skipped.append((path, f"not a {recognised.adapter} export file"))
            continue
        recognised.files.setdefault(kind, []).append(path)
        if kind == "activities":
            found, _, _ = inference.map_headers(names, inference.generic_kind("activities"), {})
            recognised.activity_columns = found
    return recognised


def _blank_source(adapter: str) -> Source:
    return Source(
        name=adapter,
        adapter=adapter,
        path=Path("."),
        history=None,
        columns={},
        history_columns={},
        status=StatusMapping(won=(), lost=()),
    )


def _deal_scores(headers: list[str]) -> dict[str, int]:
    """Per adapter that reads these headers as a deals file: how many columns it finds."""
    scores = {}
    for name, adapter_class in CRM_ADAPTERS.items():
        adapter = adapter_class()
        kind = adapter.aliases.kind("deals")
        found, missing = resolve_kind(adapter.index(headers), kind, {})
        if not missing:
            scores[name] = len(found)
    found, _, missing = inference.map_headers(headers, inference.generic_kind("deals"), {})
    if not missing:
        scores["generic"] = len(found)
    return scores


def _kind(adapter: str, headers: list[str]) -> str | None:
    if adapter == "generic":
        return inference.recognise_generic(headers)
    return CRM_ADAPTERS[adapter]().recognise(headers, _blank_source(adapter))


def source_settings(recognised: Recognised, base: Path) -> dict[str, Any]:
    """The [[sources]] table: adapter and paths (relative to the config's folder when inside it)."""
    raw: dict[str, Any] = {"name": "crm", "adapter": recognised.adapter}
    if recognised.adapter != "generic":
        raw["name"] = recognised.adapter
        files = [p for paths in recognised.files.values() for p in paths]
        folders = {p.resolve().parent for p in files}
        if len(folders) > 1:
            raise InputError(
                "the export's files are in several folders; put them in one folder and run "
                "init on it"
            )
        raw["path"] = _shown(files[0] if len(files) == 1 else folders.pop(), base)
        return raw
    for kind, key in GENERIC_KEYS.items():
        if kind in recognised.files:
            raw[key] = _shown(_one_pattern(recognised.files[kind], kind), base)
    if recognised.activity_columns:
        raw["activity_columns"] = recognised.activity_columns
    return raw


def _one_pattern(paths: list[Path], kind: str) -> Path:
    """One file, or a glob matching the files of one kind (same folder, common name start)."""
    if len(paths) == 1:
        return paths[0]
    folders = {p.resolve().parent for p in paths}
    prefix = os.path.commonprefix([p.name for p in paths])
    suffixes = {p.suffix for p in paths}
    if len(folders) > 1 or not prefix or len(suffixes) > 1:
        raise InputError(
            f"several {kind} files ({', '.join(p.name for p in paths)}) with no common name; "
            "run init on one export at a time"
        )
    return folders.pop() / f"{prefix}*{suffixes.pop()}"


def _shown(path: Path, base: Path) -> str:
    resolved = path.resolve() if "*" not in path.name else path.parent.resolve() / path.name
    try:
        return str(resolved.relative_to(base)) or "."
    except ValueError:
        return str(resolved)


def read_findings(con: duckdb.DuckDBPyConnection) -> Findings:
    one = con.execute(sql_statement("ops/deal_findings")).fetchall()[0]
    return Findings(
        deals=one[0],
        outcomes=dict(con.execute("select status, count(*) from deals group by status").fetchall()),
        stages=con.execute(sql_statement("ops/stage_findings")).fetchall(),
        first_created=one[1],
        last_event=con.execute(
            "select max(snapshot_at) from ingest_batches where status = 'loaded'"
        ).fetchall()[0][0],
        inferred={
            (source, setting): (value, basis)
            for source, setting, value, basis in con.execute(
                "select source, setting, value, basis from inferred_settings"
            ).fetchall()
        },
        history_changes=con.execute(
            "select count(*) from stage_changes where origin is distinct from 'snapshots'"
        ).fetchall()[0][0],
        with_amount=one[2],
        without_created=one[3],
        rows_rejected=con.execute("select count(*) from rejected_rows").fetchall()[0][0],
    )


def _toml(value: Any) -> str:
    """A TOML value: strings and lists of strings (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _open_stages(findings: Findings) -> dict[str, list[tuple[str, str | None]]]:
    stages: dict[str, list[tuple[str, str | None]]] = {}
    for pipeline, stage, order, basis, _ in findings.stages:
        if order is not None:
            stages.setdefault(pipeline, []).append((stage, basis))
    return stages


def render_config(
    raw: dict[str, Any], recognised: Recognised, findings: Findings, paths: list[Path]
) -> str:
    """The commented pipeline.toml."""
    source = raw["name"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Written by `pipeline-analytics init` ({now}) from {', '.join(map(str, paths))}.",
        "# Every value was inferred from the export; the comment after it says from what. Edit",
        "# any of them, then run `pipeline-analytics run`. A key left out is inferred again at",
        "# each ingest (see docs/configuration.md).",
        "",
        "[[sources]]",
        f"name = {_toml(source)}",
        f"adapter = {_toml(raw['adapter'])}"
        + ("" if raw["adapter"] == "generic" else "   # recognised from the headers"),
    ]
    for key in ("path", "history", "activities"):
        if key in raw:
            lines.append(f"{key} = {_toml(raw[key])}")
    if raw["adapter"] == "generic":
        for table in ("columns", "history_columns"):
            mapped = {
                setting.split(".", 1)[1]: value
                for (src, setting), (value, _) in findings.inferred.items()
                if src == source and setting.startswith(f"{table}.")
            }
            if mapped:
                lines += ["", f"[sources.{table}]   # canonical name = header in the file"]
                lines += [f"{c} = {_toml(h)}" for c, h in mapped.items()]
        if recognised.activity_columns:
            lines += ["", "[sources.activity_columns]"]
            lines += [f"{c} = {_toml(h)}" for c, h in recognised.activity_columns.items()]
    lines += _status_lines(source, raw["adapter"], findings)
    lines += ["", "[pipeline]"]
    lines += _stage_lines(findings)
    currency = findings.inferred.get((WAREHOUSE, inference.CURRENCY_SETTING))
    if currency is not None:
        value, basis = currency
        if basis.startswith("assumed"):
            lines.append("# ASSUMED: the export names no currency; put the right code here.")
        lines.append(f"currency = {_toml(value)}   # {basis}")
    return "\n".join(lines) + "\n"


def _status_lines(source: str, adapter: str, findings: Findings) -> list[str]:
    won = findings.inferred.get((source, "status.won"))
    lost = findings.inferred.get((source, "status.lost"))
    if won is None or lost is None:
        return []
    if won[1] not in inference.STATUS_BASES or adapter != "generic":
        if won[1] == "status column":
            return ["", f"# Won and lost come from the CRM's status columns ({won[0]})."]
        return []
    won_values, lost_values = json.loads(won[0]), json.loads(lost[0])
    if won_values and lost_values:
        return [
            "",
            f"[sources.status]   # {won[1]} values that mean the deal is closed",
            f"won = {_toml(won_values)}",
            f"lost = {_toml(lost_values)}",
        ]
    return [
        "",
        "# No value in the export says lost" if won_values else "# No value says won",
        f"# (won: {won_values}, lost: {lost_values}); to say which do, add:",
        "# [sources.status]",
        '# won = ["..."]',
        '# lost = ["..."]',
    ]


def _stage_lines(findings: Findings) -> list[str]:
    pipelines = _open_stages(findings)
    if len(pipelines) != 1:
        lines = ["# Open stages per pipeline, inferred (one list here would apply to all):"]
        for pipeline, stages in pipelines.items():
            lines.append(f"# {pipeline}: {', '.join(s for s, _ in stages)} ({stages[0][1]})")
        return lines
    stages = next(iter(pipelines.values()))
    basis = stages[0][1] or "guess"
    names = [s for s, _ in stages]
    if basis in inference.GUESS_BASES:
        return [
            "# NOT DECIDED BY THE DATA: the export has no stage table, stage history or",
            f"# probability per stage; this order is a guess ({basis}). Put the open stages in",
            "# funnel order, first to last, then delete these three lines.",
            f"stages = {_toml(names)}",
        ]
    return [
        f"# Open stages in funnel order, decided from: {basis}.",
        f"stages = {_toml(names)}",
    ]


def summary(recognised: Recognised, findings: Findings, out: Path) -> str:
    """What init found, for the terminal."""
    n = findings.deals
    won = findings.outcomes.get("won", 0)
    lost = findings.outcomes.get("lost", 0)
    kinds = ", ".join(
        f"{kind}: {', '.join(p.name for p in paths)}" for kind, paths in recognised.files.items()
    )
    lines = [
        f"Recognised a {recognised.adapter} export ({kinds}).",
        f"Deals: {n} ({won} won, {lost} lost, {n - won - lost} open).",
    ]
    for path, why in recognised.skipped:
        lines.append(f"Skipped {path.name}: {why}")
    if findings.first_created is not None and findings.last_event is not None:
        lines.append(
            f"Dates: deals created from {findings.first_created:%Y-%m-%d}; "
            f"latest event {findings.last_event:%Y-%m-%d %H:%M}."
        )
    lines.append("Stages in funnel order (deals now in each, how the order was decided):")
    for pipeline, stage, order, basis, count in findings.stages:
        place = f"{order}." if order is not None else "closed"
        deals = f"{count} deal" if count == 1 else f"{count} deals"
        lines.append(f"  [{pipeline}] {place} {stage}: {deals} ({basis or 'unknown'})")
    gaps = _gaps(findings)
    if gaps:
        lines.append("What the export lacks, and what that costs:")
        lines += [f"  - {gap}" for gap in gaps]
    lines.append(f"Config written to {out}; check it, then run: pipeline-analytics run")
    return "\n".join(lines)


def _gaps(findings: Findings) -> list[str]:
    """What the export lacks, and what that costs."""
    won = findings.outcomes.get("won", 0)
    lost = findings.outcomes.get("lost", 0)
    gaps = []
    if findings.history_changes == 0:
        gaps.append(
            "no stage history: conversion by stage and time in stage need it; weekly exports "
            "build it (ingest each new export into the same warehouse)"
        )
    if won == 0 and lost == 0:
        gaps.append(
            "nothing marks a deal won or lost: every deal counts as open, so no win rate and no "
            "forecast; set [sources.status] won/lost in the config"
        )
    elif lost == 0:
        gaps.append("no lost deals: win rate cannot be measured (it would be 100%)")
    elif won == 0:
        gaps.append("no won deals: win rate, deal size and cycle time cannot be measured")
    if findings.with_amount == 0:
        gaps.append("no amounts: pipeline value, deal size and the bookings forecast need them")
    if findings.without_created:
        gaps.append(
            f"{findings.without_created} deals have no creation date: they are left out of "
            "cycle-time and cohort figures"
        )
    if findings.rows_rejected:
        gaps.append(
            f"{findings.rows_rejected} rows could not be loaded (see the log above for why)"
        )
    currency = findings.inferred.get((WAREHOUSE, inference.CURRENCY_SETTING))
    if currency is not None and currency[1].startswith("assumed"):
        gaps.append(
            f"no currency named: amounts taken as {currency[0]}; set [pipeline] currency if not"
        )
    for _, _, order, basis, _ in findings.stages:
        if order is not None and basis in inference.GUESS_BASES:
            gaps.append(
                "stage order not decided by the data (no stage table, history or probability): "
                "the config holds a guess; confirm it"
            )
            break
    return gaps
