"""The report on the bundled sample, built by the real pipeline: its numbers reconcile with the
marts they come from, and the Italian report has no English beyond the CRM's own names."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.report import render_report
from pipeline_analytics.report.data import fetch, table_columns
from pipeline_analytics.report.i18n import catalog
from pipeline_analytics.report.sections.pipeline import sankey_flows
from pipeline_analytics.report.sections.summary import stage_changes, summary_quarters
from pipeline_analytics.report.sections.team import STUCK_DEALS_SQL
from tests.test_report import SECTION_KEYS, section_html
from tests.test_report_i18n import ITALIAN_VOCABULARY, visible_text, words

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(sample_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def pages(sample, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("sample-pages")
    return {
        language: render_report(sample, output_dir=folder / language, language=language).read_text(
            encoding="utf-8"
        )
        for language in ("en", "it")
    }


def test_only_sections_whose_tables_are_missing_say_not_available(sample, pages) -> None:
    for key in SECTION_KEYS:
        section = section_html(pages["en"], key)
        for table in re.findall(r"the warehouse has no (\w+) table", section):
            assert not table_columns(sample, table), f"{key} claims {table} is missing"
        assert "has no column" not in section, key


def test_win_rate_attribution_multiplies_back_to_the_marts_win_rate(sample) -> None:
    """Every lost deal of the sample has a known stage, so the product of this quarter's stage
    conversions is exactly the quarter's win rate in mart_kpi_changes (and likewise before)."""
    assert (
        fetch(sample, "select count(*) as n from int_deal_progress where lost_stage_unknown")[0][
            "n"
        ]
        == 0
    )
    current, previous = summary_quarters(sample)
    stages = stage_changes(sample)
    rates = fetch(
        sample,
        "select value, prev_period_value from mart_kpi_changes where period_kind = 'quarter' "
        "and dimension = 'all' and kpi = 'win_rate' and period_start = ?",
        [current.start],
    )[0]
    assert math.prod(s["conversion_now"] for s in stages) == pytest.approx(rates["value"])
    assert math.prod(s["conversion_before"] for s in stages) == pytest.approx(
        rates["prev_period_value"]
    )


def test_stuck_deal_list_agrees_with_mart_bottlenecks(sample) -> None:
    listed: dict[str, int] = {}
    for deal in fetch(sample, STUCK_DEALS_SQL, [10**9]):
        listed[deal["stage"]] = listed.get(deal["stage"], 0) + 1
    counted = {
        r["stage"]: r["stuck_deals"]
        for r in fetch(sample, "select stage, stuck_deals from mart_bottlenecks")
        if r["stuck_deals"]
    }
    assert listed == counted and sum(counted.values()) > 0


def test_flow_chart_accounts_for_every_deal(sample) -> None:
    stages = fetch(sample, "select * from mart_stage_conversion order by stage_order")
    nodes, flows = sankey_flows(stages)
    ends = {"won", "lost", "open", "unknown"}
    into_ends = sum(f.deals for f in flows if nodes[f.target] in ends)
    assert (
        into_ends
        == stages[0]["reached"]
        == fetch(sample, "select count(*) as n from deals")[0]["n"]
    )


def test_every_data_quality_check_has_italian_words(sample) -> None:
    checks = {r["check_name"] for r in fetch(sample, "select check_name from mart_data_quality")}
    assert checks and not checks - set(catalog("it").check_explanations)


def test_italian_sample_report_has_no_english_but_crm_names(sample, pages) -> None:
    crm = fetch(
        sample,
        """
        select string_agg(distinct coalesce(name, '') || ' ' || coalesce(account, '') || ' '
            || coalesce(owner, '') || ' ' || coalesce(stage, '') || ' '
            || coalesce(lead_source, '') || ' ' || coalesce(deal_type, '') || ' '
            || coalesce(pipeline, '') || ' ' || deal_id, ' ') as text
        from deals
        """,
    )[0]["text"]
    shown = words(visible_text(pages["it"]))
    unexpected = shown - ITALIAN_VOCABULARY - words([crm]) - {"usd"}
    assert not unexpected, sorted(unexpected)
