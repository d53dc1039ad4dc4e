"""forecast/asof.py: the models rebuilt as views as of an earlier moment (STREAMED) give the
forecast the very inputs stored tables give, in the same order."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.forecast import asof
from pipeline_analytics.sql_files import sql_statement
from tests.conftest import SAMPLE_DIR

pytestmark = pytest.mark.slow

ORIGINS = [datetime(2025, 6, 1), datetime(2026, 1, 1), datetime(2026, 9, 1)]


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("asof") / "w.duckdb"
    config = str(SAMPLE_DIR / "pipeline.toml")
    for command in ("ingest", "build"):
        assert main(["-q", "--config", config, "--db", str(db), command]) == 0, command
    return db


def read_inputs(con: duckdb.DuckDBPyConnection, as_of: datetime) -> dict[str, list[tuple]]:
    with asof.models_as_of(con, as_of):
        return {
            name: con.execute(sql_statement(f"forecast/{name}"), {"as_of": as_of}).fetchall()
            if "$as_of" in sql_statement(f"forecast/{name}")
            else con.execute(sql_statement(f"forecast/{name}")).fetchall()
            for name in ("stage_days_to_close", "stints", "deal_ages", "open_deals")
        }


def test_views_give_the_inputs_stored_tables_give(
    sample_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = duckdb.connect(str(sample_db))
    served = {o: read_inputs(con, o) for o in ORIGINS}
    # Every needed model rebuilt and stored, as before STREAMED.
    monkeypatch.setattr(asof, "STREAMED", frozenset())
    for origin in ORIGINS:
        rebuilt = read_inputs(con, origin)
        assert rebuilt["stage_days_to_close"], origin
        assert sorted(served[origin]["stage_days_to_close"]) == sorted(
            rebuilt["stage_days_to_close"]
        )
        for name in ("stints", "deal_ages", "open_deals"):  # in the same order, too
            assert served[origin][name] == rebuilt[name], (origin, name)
    con.close()
