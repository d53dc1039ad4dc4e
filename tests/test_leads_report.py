"""The report with leads: the funnel and lead-source sections start at leads, in English and
Italian; without leads both sections are exactly what they were."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.report import render_report
from tests.test_report import make_warehouse, section_html, text_of
from tests.test_report_i18n import CRM_WORDS, ITALIAN_VOCABULARY, visible_text, words

pytestmark = pytest.mark.slow

# 10 leads: 4 became deals, 1 won; 3 open, 3 expired. Web 6 of them, 4 without a source.
LEAD_ROWS = [
    ("all", "all", 90, 10, 4, 1, 5000.0, 3, 3, 12.5, 0.4, 0.1, 0.25),
    ("lead_source", "Web", 90, 6, 3, 1, 5000.0, 2, 1, 10.0, 0.5, 1 / 6, 1 / 3),
    ("lead_source", "(none)", 90, 4, 1, 0, 0.0, 1, 2, 20.0, 0.25, 0.0, 0.0),
]


def add_lead_mart(con: duckdb.DuckDBPyConnection, lead_rows: list[tuple]) -> None:
    # Replaces the mart the build made from the fixture's leads table, which is empty.
    con.execute(
        """
        create or replace table mart_lead_conversion (
            dimension varchar, dimension_value varchar, as_of timestamp,
            lead_expiry_days integer, leads_created bigint, leads_converted bigint,
            converted_deals_won bigint, converted_won_amount_base double, leads_open bigint,
            leads_expired bigint, median_days_to_convert double, lead_to_deal_rate double,
            lead_to_won_rate double, deal_to_won_rate double
        )
        """
    )
    for row in lead_rows:
        con.execute(
            "insert into mart_lead_conversion "
            "values (?, ?, timestamp '2026-03-14 12:00', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(row),
        )


def render(folder: Path, lead_rows: list[tuple] | None, language: str = "en") -> str:
    """The report of the test_report warehouse; with a lead mart of these rows unless None."""
    con = make_warehouse(folder / "w.duckdb")
    if lead_rows is not None:
        add_lead_mart(con, lead_rows)
    path = render_report(con, output_dir=folder / "reports", language=language)
    con.close()
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        name: render(tmp_path_factory.mktemp(name), rows, language)
        for name, rows, language in [
            ("without", None, "en"),
            ("empty", [], "en"),
            ("en", LEAD_ROWS, "en"),
            ("it", LEAD_ROWS, "it"),
        ]
    }


def test_the_funnel_starts_at_leads(pages: dict[str, str]) -> None:
    funnel = text_of(section_html(pages["en"], "funnel"))
    assert funnel.index("From lead to deal") < funnel.index("Deals by stage")
    assert (
        "10 leads created: 4 became deals (40.0%) and 1 of those deals were won (10.0% of the "
        "leads). Median time from lead to deal: 12.5 days. Not converted: 3 still open, "
        "3 expired (older than 90 days, counted as lost)."
    ) in funnel
    assert 'id="chart-lead-funnel"' in section_html(pages["en"], "funnel")
    # The stage funnel follows, as before.
    assert "Win rate from stage" in funnel


def test_the_lead_source_section_starts_with_conversion_per_source(pages: dict[str, str]) -> None:
    sources = text_of(section_html(pages["en"], "sources"))
    assert sources.index("Leads by source") < sources.index("Deals by source")
    # Web: 6 leads, 3 deals, 1 won, 50.0%, 16.7%, 10.0 days, 2 open, 1 expired.
    assert "Web 6 3 1 50.0% 16.7% 10.0 2 1" in sources
    assert "(no lead source) 4 1 0 25.0% 0.0% 20.0 1 2" in sources


def test_the_italian_report_with_leads_has_no_english_left(pages: dict[str, str]) -> None:
    page = pages["it"]
    funnel = text_of(section_html(page, "funnel"))
    assert "Dal lead alla trattativa" in funnel and "10 lead creati" in funnel
    assert "Lead per canale" in text_of(section_html(page, "sources"))
    shown = words(visible_text(page))
    assert not shown - (ITALIAN_VOCABULARY | CRM_WORDS | {"usd"})


def test_without_leads_the_report_is_unchanged(pages: dict[str, str]) -> None:
    for key in ("funnel", "sources"):
        before = section_html(pages["without"], key)
        assert section_html(pages["empty"], key) == before
        assert "lead-funnel" not in before and "Leads by source" not in before
