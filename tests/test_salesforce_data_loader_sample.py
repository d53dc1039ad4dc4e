"""A Data Loader export of the sample (relationship headers, no Id, a history keyed on the
opportunity name, no stage table, no currency) with a config of only `adapter` and `path` builds
the marts of the bundled Data Export with its hand-written config.

The sample's names repeat (several deals of one account and type), so this also proves that
deals sharing a name are all kept and that their history rows find the right deal.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import SAMPLE_DIR
from tests.test_init import built_marts

pytestmark = pytest.mark.slow

# Marts that name deals by their key: the Data Loader export keys deals on names, not Ids.
KEYED_ON_DEALS = {
    "mart_data_quality",
    "mart_deal_cycle",
    "mart_deal_details",
    "mart_stuck_deals",
    "mart_slippage_deals",
}
# Marts that count the files loaded: the two exports are different files.
OF_THE_FILES = {"mart_files_loaded"}


def _data_loader_export(folder: Path) -> None:
    """The sample's Opportunity and OpportunityHistory as a Data Loader query would write them."""
    export = SAMPLE_DIR / "salesforce"
    deals = pl.read_csv(export / "Opportunity.csv", infer_schema_length=0).filter(
        pl.col("IsDeleted") == "0"
    )
    names = dict(zip(deals["Id"], deals["Name"], strict=True))
    folder.mkdir()
    deals.select(
        pl.col("Name").alias("NAME"),
        pl.col("AccountId").alias("ACCOUNT.NAME"),
        pl.col("OwnerId").alias("OWNER.NAME"),
        pl.col("StageName").alias("STAGENAME"),
        pl.col("Amount").alias("AMOUNT"),
        pl.col("Probability").alias("PROBABILITY"),
        pl.col("CloseDate").alias("CLOSEDATE"),
        pl.col("Type").alias("TYPE"),
        pl.col("LeadSource").alias("LEADSOURCE"),
        pl.col("IsClosed").alias("ISCLOSED"),
        pl.col("IsWon").alias("ISWON"),
        pl.col("ForecastCategoryName").alias("FORECASTCATEGORYNAME"),
        pl.col("CreatedDate").alias("CREATEDDATE"),
        pl.col("LastModifiedDate").alias("LASTMODIFIEDDATE"),
    ).write_csv(folder / "extract_opportunity.csv", quote_style="always")
    history = pl.read_csv(export / "OpportunityHistory.csv", infer_schema_length=0)
    history.filter(pl.col("IsDeleted") == "0").select(
        pl.col("OpportunityId").replace_strict(names).alias("OPPORTUNITY.NAME"),
        pl.col("CreatedDate").alias("CREATEDDATE"),
        pl.col("StageName").alias("STAGENAME"),
        pl.col("Amount").alias("AMOUNT"),
        pl.col("CloseDate").alias("CLOSEDATE"),
        pl.col("ForecastCategory").alias("FORECASTCATEGORY"),
    ).write_csv(folder / "extract_history.csv", quote_style="always")


def test_data_loader_export_with_adapter_and_path_only_builds_the_data_export_marts(
    tmp_path: Path,
) -> None:
    data_export = tmp_path / "data_export"
    shutil.copytree(SAMPLE_DIR / "salesforce", data_export / "salesforce")
    (data_export / "salesforce" / "Lead.csv").unlink()  # leads are not part of this comparison
    shutil.copy(SAMPLE_DIR / "salesforce.toml", data_export / "pipeline.toml")
    expected = built_marts(data_export / "pipeline.toml", data_export / "warehouse.duckdb")

    data_loader = tmp_path / "data_loader"
    data_loader.mkdir()
    _data_loader_export(data_loader / "export")
    config = data_loader / "pipeline.toml"
    config.write_text('[[sources]]\nname = "salesforce"\nadapter = "salesforce"\npath = "export"\n')
    got = built_marts(config, data_loader / "warehouse.duckdb")

    names = pl.read_csv(data_loader / "export" / "extract_opportunity.csv")["NAME"]
    assert names.n_unique() < len(names)  # the case this test is about: names repeat
    assert set(got) == set(expected)
    compared = set(expected) - KEYED_ON_DEALS - OF_THE_FILES
    differing = sorted(n for n in compared if got[n] != expected[n])
    assert differing == []
