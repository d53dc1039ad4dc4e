"""Helpers for the CRM adapter tests: a config per adapter, queries, the batch count invariant."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from tests.conftest import run_cli

REAL_SALESFORCE_EXPORT = (
    Path(__file__).resolve().parents[2] / "shared" / "real-exports" / "salesforce_dev_org_export"
)


def adapter_config(
    folder: Path,
    adapter: str,
    path: str,
    stages: list[str],
    *,
    source_extra: str = "",
    currency: str = "USD",
    pipeline_extra: str = "",
) -> None:
    """Write folder/p.toml: one source of `adapter` reading `path`, and the open stages.

    `source_extra` lines go into the [[sources]] entry (after its keys, so they may open
    [sources.columns] and the like); `pipeline_extra` lines into [pipeline].
    """
    stage_list = ", ".join(f'"{s}"' for s in stages)
    (folder / "p.toml").write_text(
        "\n".join(
            [
                "[pipeline]",
                f"stages = [{stage_list}]",
                f'currency = "{currency}"',
                pipeline_extra,
                "[[sources]]",
                'name = "crm"',
                f'adapter = "{adapter}"',
                f'path = "{path}"',
                source_extra,
                "",
            ]
        ),
        encoding="utf-8",
    )


def query(folder: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def ingest(folder: Path) -> int:
    return run_cli(folder, "ingest")


def batches(folder: Path) -> list[tuple]:
    """(file name, object, read, loaded, rejected, excluded) per batch, checking the invariant."""
    rows = query(
        folder,
        "select file_path, object, rows_read, rows_loaded, rows_rejected, rows_excluded "
        "from ingest_batches order by batch_id",
    )
    for _, _, read, loaded, rejected, excluded in rows:
        assert read == loaded + rejected + excluded  # count in = loaded + rejected + excluded
    return [(Path(r[0]).name, *r[1:]) for r in rows]


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    """A CSV written by the csv module (headers with quotes are quoted as a CRM would)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path
