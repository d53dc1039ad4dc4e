"""The Salesforce rendering of the sample carries Lead.csv: leads load end to end with the
sample's config (adapter and path only), and the funnel matches the file read independently."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.sample.renderings import write_rendering
from pipeline_analytics.sample.simulator import simulate
from tests.conftest import SAMPLE_DIR

AS_OF = datetime(2026, 10, 31, 23, 59, 59)
LEADS_FILE = SAMPLE_DIR / "salesforce" / "Lead.csv"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("salesforce-leads") / "w.duckdb"
    args = ["-q", "--config", str(SAMPLE_DIR / "salesforce.toml"), "--db", str(db)]
    assert main([*args, "ingest"]) == 0
    assert main([*args, "build", "--as-of", AS_OF.isoformat()]) == 0
    return duckdb.connect(str(db), read_only=True)


def test_the_committed_lead_file_is_what_the_renderings_write(tmp_path: Path) -> None:
    write_rendering("salesforce", simulate(1000, 7), tmp_path)
    assert (tmp_path / "salesforce" / "Lead.csv").read_bytes() == LEADS_FILE.read_bytes()


@pytest.mark.slow
def test_every_lead_loads_and_links_to_its_opportunity(warehouse) -> None:
    leads = pl.read_csv(LEADS_FILE, infer_schema=False)
    assert warehouse.execute("select count(*) from leads").fetchall() == [(leads.height,)]
    # Every converted lead names an opportunity that loaded.
    assert warehouse.execute(
        "select count(*) from leads as l left join deals as d "
        "on l.converted_deal_id = d.deal_id where l.converted_deal_id is not null "
        "and d.deal_id is null"
    ).fetchall() == [(0,)]


@pytest.mark.slow
def test_the_funnel_matches_the_file_read_independently(warehouse) -> None:
    leads = pl.read_csv(LEADS_FILE, infer_schema=False).with_columns(
        pl.col("CreatedDate").str.to_datetime("%Y-%m-%d %H:%M:%S")
    )
    converted = leads.filter(pl.col("IsConverted") == "1")
    never = leads.filter(pl.col("IsConverted") == "0")
    expired = never.filter(pl.col("CreatedDate") < AS_OF - timedelta(days=90)).height
    won_ids = {
        row[0]
        for row in warehouse.execute("select deal_id from deals where status = 'won'").fetchall()
    }
    won = converted.filter(pl.col("ConvertedOpportunityId").is_in(won_ids)).height
    assert warehouse.execute(
        "select leads_created, leads_converted, converted_deals_won, leads_open, leads_expired "
        "from mart_lead_conversion where dimension = 'all'"
    ).fetchall() == [(leads.height, converted.height, won, never.height - expired, expired)]
    assert 0 < won < converted.height < leads.height and 0 < expired < never.height
