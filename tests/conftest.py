"""Shared test helpers: write small exports and configs, run the CLI in-process."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from pipeline_analytics.cli import main

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "data" / "sample"


def _real_salesforce_export() -> Path | None:
    """../shared/real-exports/salesforce_dev_org_export, looked for above the repository (it is
    never copied into it); None where it is absent, as in CI."""
    for folder in Path(__file__).resolve().parents:
        export = folder / "shared" / "real-exports" / "salesforce_dev_org_export"
        if (export / "opportunity.csv").is_file():
            return export
    return None


REAL_SALESFORCE_EXPORT = _real_salesforce_export()

# A [[targets]] or [scenarios.NAME] table of a config, up to the next table.
_TARGETS_AND_SCENARIOS = re.compile(r"^\[(\[targets\]|scenarios\.[^\]]+)\]\n(?:(?!\[).*\n)*", re.M)


def sample_config_text() -> str:
    """data/sample/pipeline.toml without its [[targets]] and [scenarios.NAME] tables, for tests
    that set their own."""
    text = (SAMPLE_DIR / "pipeline.toml").read_text(encoding="utf-8")
    return _TARGETS_AND_SCENARIOS.sub("", text)


GENERIC_CONFIG = """
[[sources]]
name = "crm"
adapter = "generic"
path = "deals.csv"
{history}
[sources.columns]
deal_id = "id"
created_at = "created"
closed_at = "closed"
amount = "value"
owner = "rep"
[sources.status]
won = ["Won"]
lost = ["Lost"]
[pipeline]
stages = ["Prospecting", "Qualification", "Proposal"]
currency = "USD"
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
    return path


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """A folder with a generic config whose deals file (and history) the test writes."""
    write(tmp_path / "p.toml", GENERIC_CONFIG.format(history='history = "history.csv"'))
    return tmp_path


def run_cli(folder: Path, *args: str) -> int:
    return main(["--config", str(folder / "p.toml"), "--db", str(folder / "w.duckdb"), *args])


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample ingested, built and forecast once per test process, for the report and
    notebook tests; open it read-only."""
    db = tmp_path_factory.mktemp("sample-warehouse") / "warehouse.duckdb"
    config = str(SAMPLE_DIR / "pipeline.toml")
    for command in ("ingest", "build", "forecast"):
        assert main(["-q", "--config", config, "--db", str(db), command]) == 0, command
    return db
