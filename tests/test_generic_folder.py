"""A generic source whose `path` is a folder: each file is read as what its headers make it.

A stage history read as deals would replace every deal with its latest history row, so a folder
holding both must load the deals as deals and the history as history, and skip an activities file
with how to name it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write
from tests.test_init import built_marts

pytestmark = pytest.mark.slow

DEALS = """
Deal ID,Stage,Amount,Created,Close Date
D1,Proposal,1000,2024-01-05,2024-04-01
D2,Won,2000,2024-01-06,2024-02-01
D3,Lost,500,2024-01-07,2024-02-10
"""
HISTORY = """
Deal ID,Stage,Changed At
D1,Qualification,2024-01-05
D1,Proposal,2024-02-01
D2,Qualification,2024-01-06
D2,Proposal,2024-01-20
D2,Won,2024-02-01
D3,Qualification,2024-01-07
D3,Lost,2024-02-10
"""
CALLS = """
Deal ID,Activity Type,Completed At
D1,Call,2024-01-09
"""


def test_folder_files_load_as_what_their_headers_make_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "export").mkdir()
    write(tmp_path / "export" / "deals.csv", DEALS)
    write(tmp_path / "export" / "history.csv", HISTORY)
    write(tmp_path / "export" / "calls.csv", CALLS)
    config = write(
        tmp_path / "pipeline.toml",
        '[[sources]]\nname = "crm"\nadapter = "generic"\npath = "export"\n',
    )
    with caplog.at_level(logging.WARNING):
        built_marts(config, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        assert con.execute(
            "select object, rows_loaded from ingest_batches order by object"
        ).fetchall() == [("deals", 3), ("history", 7)]
        assert con.execute(
            "select deal_id, stage, status, created_at::date::varchar from deals order by 1"
        ).fetchall() == [
            ("D1", "Proposal", "open", "2024-01-05"),
            ("D2", "Won", "won", "2024-01-06"),
            ("D3", "Lost", "lost", "2024-01-07"),
        ]
        # Order from the history: every deal entered Qualification before Proposal.
        assert con.execute(
            "select stage, stage_order, basis from stages where stage_order is not null "
            "order by stage_order"
        ).fetchall() == [
            ("Qualification", 1, "history transitions"),
            ("Proposal", 2, "history transitions"),
        ]
    finally:
        con.close()
    skipped = [r.getMessage() for r in caplog.records if "calls.csv" in r.getMessage()]
    assert len(skipped) == 1
    assert "an activities export, skipped: name it in the config with activities =" in skipped[0]
