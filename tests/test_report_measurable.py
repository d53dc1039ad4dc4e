"""A report that never overstates: what the data cannot measure reads "not measurable" with the fix.

Tiny warehouses are built by the real SQL models from hand-written core rows (tests/mart_fixtures),
then rendered. as_of is 2026-03-14 12:00: the summary's quarter is Q1 2026, the previous Q4 2025.

The shapes: an export with only current stages (no history: every lost deal is of unknown stage),
one without lost deals, one with open deals lacking amounts, one without owner and lead-source
columns; and, so the checks can fail, one with history and lost deals at known stages.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import pytest

from pipeline_analytics.report import render_report
from pipeline_analytics.report.charts import chart, nice_ticks
from pipeline_analytics.report.formatting import ITALIAN, LOCALES, Formatter
from pipeline_analytics.report.i18n import translator
from pipeline_analytics.report.measurability import Measure
from pipeline_analytics.report.model import ReportContext
from pipeline_analytics.report.sections.summary import (
    KpiChange,
    cycle_card,
    stage_conversion_blocks,
    win_rate_card,
)
from tests.mart_fixtures import (
    SOURCE,
    add_deal,
    add_stages,
    add_stint,
    build_as_of,
    new_warehouse,
    rows,
    stage_name,
)
from tests.test_report import section_html, text_of

AS_OF = datetime(2026, 3, 14, 12, 0)
# The sections this part writes (the forecast-facing ones belong to the forecast report).
MEASURED_SECTIONS = ("summary", "funnel", "speed", "bottlenecks", "team", "sources", "flow")
# Elements holding sentences: section intros, notes, card readings and hints, table captions.
PROSE = re.compile(
    r'<(p) class="(?:intro|note[^"]*|reading)">(.*?)</p>'
    r'|<(div) class="card-hint">(.*?)</div>|<(caption)>(.*?)</caption>',
    re.S,
)


def add_current_only_event(
    con: duckdb.DuckDBPyConnection,
    deal_id: str,
    stage: str,
    stage_order: int | None,
    entered_at: datetime | None,
) -> None:
    """What ingest records for a deal seen in one export with no history: its current stage,
    entered at the close for a closed deal, at creation in the first stage, else unknown."""
    con.execute(
        "insert into deal_stage_events values (?, ?, 'default', ?, ?, ?, null, 1, 'current_only')",
        [SOURCE, deal_id, stage, stage_order, entered_at],
    )


def current_stage_only_export(con: duckdb.DuckDBPyConnection, *, with_lost: bool) -> None:
    """Three open stages. Won: w1 (Feb 2026), w2 (Nov 2025), w3 (Jan 2026). Lost (with_lost):
    l1 (Feb 2026), l2 (Nov 2025), exported only as "Lost". Open: o1 in stage 2 with 1,000, o2 in
    stage 1 and o3 in stage 3 without an amount. No history; owner and lead source only in the
    export without lost deals."""
    names = {} if with_lost else {"owner": "Alice", "lead_source": "Web"}
    add_stages(con, 3)
    closed = [
        ("w1", "won", datetime(2026, 2, 10), 3000.0),
        ("w2", "won", datetime(2025, 11, 15), 2000.0),
        ("w3", "won", datetime(2026, 1, 20), 1000.0),
    ]
    if with_lost:
        closed += [
            ("l1", "lost", datetime(2026, 2, 12), 500.0),
            ("l2", "lost", datetime(2025, 11, 20), 700.0),
        ]
    for deal_id, status, closed_at, amount in closed:
        add_deal(
            con,
            deal_id,
            created_at=datetime(2025, 9, 1),
            status=status,
            closed_at=closed_at,
            amount_base=amount,
            snapshot_at=AS_OF,
            **names,
        )
        add_current_only_event(con, deal_id, status.title(), None, closed_at)
    for deal_id, stage_order, amount in (("o1", 2, 1000.0), ("o2", 1, None), ("o3", 3, None)):
        add_deal(
            con,
            deal_id,
            created_at=datetime(2026, 1, 5),
            stage_order=stage_order,
            amount_base=amount,
            snapshot_at=AS_OF,
            **names,
        )
        entered_at = datetime(2026, 1, 5) if stage_order == 1 else None
        add_current_only_event(con, deal_id, stage_name(stage_order), stage_order, entered_at)


def history_export(con: duckdb.DuckDBPyConnection) -> None:
    """The same kind of pipeline with recorded history: l1 was lost at stage 2, l2 at stage 1;
    w1 and w2 went through every stage. Owners and lead sources are filled in."""
    add_stages(con, 3)
    for deal_id, status, closed_at in (
        ("w1", "won", datetime(2026, 2, 10)),
        ("w2", "won", datetime(2025, 11, 15)),
        ("l1", "lost", datetime(2026, 2, 12)),
        ("l2", "lost", datetime(2025, 11, 20)),
    ):
        add_deal(
            con,
            deal_id,
            created_at=datetime(2025, 9, 1),
            status=status,
            closed_at=closed_at,
            amount_base=1000.0,
            owner="Alice",
            lead_source="Web",
            snapshot_at=AS_OF,
        )
    for deal_id, last_stage in (("w1", 3), ("w2", 3), ("l1", 2), ("l2", 1)):
        for order in range(1, last_stage + 1):
            add_stint(
                con, deal_id, order, datetime(2025, 9, order * 5), datetime(2025, 9, order * 5 + 5)
            )
    add_deal(
        con,
        "o1",
        created_at=datetime(2026, 1, 5),
        stage_order=1,
        amount_base=800.0,
        owner="Bob",
        lead_source="Events",
        snapshot_at=AS_OF,
    )
    add_stint(con, "o1", 1, datetime(2026, 1, 5), None)


def one_quarter_export(con: duckdb.DuckDBPyConnection) -> None:
    """Every deal created this quarter: the summary has no previous quarter to compare with."""
    add_stages(con, 2)
    add_deal(
        con,
        "w1",
        created_at=datetime(2026, 1, 10),
        status="won",
        closed_at=datetime(2026, 2, 1),
        amount_base=500.0,
        snapshot_at=AS_OF,
    )
    add_current_only_event(con, "w1", "Won", None, datetime(2026, 2, 1))
    add_deal(con, "o1", created_at=datetime(2026, 1, 12), stage_order=1, snapshot_at=AS_OF)
    add_current_only_event(con, "o1", stage_name(1), 1, datetime(2026, 1, 12))


def build_and_render(
    tmp_path: Path, shape: str, language: str = "en"
) -> tuple[duckdb.DuckDBPyConnection, str]:
    con = new_warehouse(tmp_path)
    if shape == "history":
        history_export(con)
    elif shape == "one_quarter":
        one_quarter_export(con)
    else:
        current_stage_only_export(con, with_lost=shape == "no_history")
    build_as_of(con, AS_OF)
    path = render_report(con, output_dir=tmp_path / "reports", language=language)
    return con, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def no_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, str]:
    return build_and_render(tmp_path_factory.mktemp("no_history"), "no_history")


@pytest.fixture(scope="module")
def no_lost(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, str]:
    return build_and_render(tmp_path_factory.mktemp("no_lost"), "no_lost")


@pytest.fixture(scope="module")
def with_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, str]:
    return build_and_render(tmp_path_factory.mktemp("history"), "history")


def measurability(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    return {
        r["metric"]: (r["measurable"], r["reason"], r["deals_affected"], r["deals_considered"])
        for r in rows(con, "select * from mart_measurability")
    }


# --- the marts ------------------------------------------------------------------------------------


def test_marts_say_what_an_export_without_history_cannot_measure(no_history) -> None:
    con, _ = no_history
    assert measurability(con) == {
        # 8 deals, none with an event other than current_only.
        "stage_history": (False, "no_stage_history", 8, 8),
        # Both lost deals were exported only as "Lost".
        "stage_conversion": (False, "lost_stage_unknown", 2, 2),
        "time_in_stage": (False, "no_stage_history", 8, 8),
        # 3 won and 2 lost in the window: measurable, nothing to warn about.
        "win_rate": (True, None, 2, 5),
        # o2 and o3 of the 3 open deals have no amount.
        "open_pipeline_amount": (True, "open_without_amount", 2, 3),
        "owner": (False, "not_in_export", 8, 8),
        "lead_source": (False, "not_in_export", 8, 8),
        # Every closed deal has its close date, every deal its creation date.
        "time_windows": (True, None, 0, 5),
        "cycle_time": (True, None, 0, 8),
    }
    conversion = rows(
        con,
        "select stage_order, conversion_rate, lost_stage_unknown, conversion_measured "
        "from mart_stage_conversion order by stage_order",
    )
    # Every lost deal is of unknown stage, so every step's formula gives 1.0: flagged unmeasured.
    assert [(r["conversion_rate"], r["conversion_measured"]) for r in conversion] == [
        (1.0, False)
    ] * 3
    assert {r["lost_stage_unknown"] for r in conversion} == {2}
    assert rows(con, "select open_deals, open_deals_without_amount from mart_kpis") == [
        {"open_deals": 3, "open_deals_without_amount": 2}
    ]
    assert {r["days_per_advance"] for r in rows(con, "select * from mart_bottlenecks")} == {None}


def test_marts_with_history_measure_everything(with_history) -> None:
    con, _ = with_history
    found = measurability(con)
    assert found["stage_history"] == (True, None, 0, 5)
    assert found["stage_conversion"] == (True, None, 0, 2)
    assert found["time_in_stage"][:2] == (True, None)
    assert found["owner"][:2] == found["lead_source"][:2] == (True, None)
    conversion = rows(
        con,
        "select stage_order, conversion_rate, conversion_measured from mart_stage_conversion "
        "order by stage_order",
    )
    # Stage 1: w1, w2, l1 advanced, l2 lost there: 3 / 4. Stage 2: w1, w2 advanced, l1 lost: 2 / 3.
    assert [r["conversion_measured"] for r in conversion] == [True] * 3
    assert [r["conversion_rate"] for r in conversion] == [
        pytest.approx(3 / 4),
        pytest.approx(2 / 3),
        1.0,
    ]


# --- the report -----------------------------------------------------------------------------------


def test_no_stage_history_reads_not_measurable_never_100_percent(no_history) -> None:
    _, page = no_history
    funnel = text_of(section_html(page, "funnel"))
    assert (
        "Stage conversion is not measurable: none of the 2 lost deals has a known last stage, so "
        "every step would read 100%. It needs stage history: export OpportunityHistory, or run "
        "weekly so history builds up." in funnel
    )
    assert "100.0%" not in funnel
    # Stage 1's row: reached by all 8 deals, 3 advanced (the won ones; o1 and o3 sit later).
    # Its win rate from stage is the all-time win rate, 3 / 5; later stages' are unmeasured.
    assert "stage 1 8 5 0 1 not measurable 60.0%" in funnel
    assert "stage 2 5 4 0 1 not measurable not measurable" in funnel
    summary = text_of(section_html(page, "summary"))
    assert "100.0%" not in summary
    assert "Stage conversion is not measurable: none of the 2 lost deals" in summary
    assert "Stage conversion of the deals closed in each quarter" not in summary


def test_time_in_stage_throughput_and_bottlenecks_need_stage_history(no_history) -> None:
    _, page = no_history
    speed = text_of(section_html(page, "speed"))
    assert (
        "Time in stage is not measurable: it needs stage history. Export OpportunityHistory, or "
        "run weekly so history builds up." in speed
    )
    assert "Stage throughput is not measurable: it needs stage history" in speed
    assert "deals pile up" not in speed  # the throughput table is not drawn
    bottlenecks = text_of(section_html(page, "bottlenecks"))
    assert "Conversion and the ranking are not measurable" in bottlenecks
    assert "Time in stage and stuck deals are not measurable: they need stage history." in (
        bottlenecks
    )
    # Stage 2 holds o1: only its open-deal count is a measurement.
    assert (
        "not measurable stage 2 not measurable not measurable not measurable 1 not measurable "
        "not measurable" in bottlenecks
    )
    assert "100.0%" not in bottlenecks
    assert "No open deal has been in its stage longer" not in bottlenecks


def test_open_deals_without_amount_are_counted_beside_velocity_and_pipeline(no_history) -> None:
    _, page = no_history
    summary = section_html(page, "summary")
    assert 'data-kpi="open_deals_without_amount" data-value="2"' in summary
    sentence = (
        "2 of 3 open deals have no amount: the open pipeline leaves them out, while sales "
        "velocity counts each at the average won deal."
    )
    assert sentence in text_of(summary)
    assert sentence in text_of(section_html(page, "speed"))
    assert sentence in text_of(section_html(page, "flow"))


def test_missing_owner_and_lead_source_columns_are_said_not_tabled(no_history) -> None:
    _, page = no_history
    team = section_html(page, "team")
    assert "Owner is not in the export: no deal has one" in text_of(team)
    assert "<table" not in team
    sources = section_html(page, "sources")
    assert "Lead source is not in the export: no deal has one" in text_of(sources)
    assert "<table" not in sources and "chart-sources" not in sources


def test_win_rate_without_lost_deals_carries_a_warning(no_lost) -> None:
    con, page = no_lost
    assert measurability(con)["win_rate"] == (True, "no_lost_deals", 0, 3)
    assert measurability(con)["stage_conversion"] == (False, "no_lost_deals", 0, 0)
    summary = text_of(section_html(page, "summary"))
    assert (
        "No closed-lost deals in the export: it may leave them out (a report filter?); the win "
        "rate may be overstated." in summary
    )
    assert "Stage conversion is not measurable: the export has no closed-lost deals" in summary
    # Every owner's and every source's win rate would read 100% too: the tables carry the warning.
    for key in ("team", "sources"):
        assert "No closed-lost deals in the export" in text_of(section_html(page, key)), key
    funnel = text_of(section_html(page, "funnel"))
    assert "100.0%" not in funnel.split("Win rate from stage")[-1].replace("stage 1 ", "", 1)


def test_a_measurable_export_shows_its_numbers(with_history) -> None:
    _, page = with_history
    for key in MEASURED_SECTIONS:
        assert "not measurable" not in text_of(section_html(page, key)), key
    assert "No closed-lost deals in the export" not in page
    # Stage 1: 3 of 4 advanced; stage 2: 2 of 3 (see test_marts_with_history_measure_everything).
    funnel = text_of(section_html(page, "funnel"))
    assert "75.0%" in funnel and "66.7%" in funnel
    assert "Alice" in text_of(section_html(page, "team"))


@pytest.mark.slow
def test_a_first_quarter_is_introduced_without_dashes(tmp_path: Path) -> None:
    _, page = build_and_render(tmp_path, "one_quarter")
    intro = text_of(section_html(page, "summary").split('<p class="intro">')[1].split("</p>")[0])
    assert intro == (
        "Q1 2026 to date (Jan 1, 2026 to Mar 14, 2026); the data has no quarter before it to "
        "compare with. The smaller figure on each card covers the trailing 365 days."
    )


@pytest.mark.slow
def test_italian_report_says_not_measurable_in_italian(tmp_path: Path) -> None:
    _, page = build_and_render(tmp_path, "no_history", language="it")
    funnel = text_of(section_html(page, "funnel"))
    assert "La conversione per fase non è misurabile" in funnel
    assert "non misurabile" in funnel
    assert "2 trattative aperte su 3 non hanno importo" in text_of(section_html(page, "summary"))


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["no_history", "no_lost", "history", "one_quarter"])
def test_no_dash_inside_a_sentence(shape: str, tmp_path: Path) -> None:
    _, page = build_and_render(tmp_path, shape)
    for key in MEASURED_SECTIONS:
        for match in PROSE.finditer(section_html(page, key)):
            sentence = text_of(match.group(2) or match.group(4) or match.group(6))
            assert "—" not in sentence, f"{shape}, {key}: {sentence}"


# --- numbers and axes -----------------------------------------------------------------------------


def test_compact_numbers_read_k_m_b_and_the_italian_forms() -> None:
    english, italian = Formatter("USD"), Formatter("EUR", ITALIAN)
    assert english.compact(1.2e9) == "1.20B"
    assert english.money_compact(1.2e9) == "$1.20B"
    assert english.compact(45_800) == "45.8K"
    assert english.compact(3_400_000) == "3.40M"
    assert italian.compact(1.2e9) == "1,20 Mrd"
    assert italian.money_compact(1.2e9) == "1,20 Mrd €"
    assert italian.money_compact(3_400_000) == "3,40 Mln €"
    assert italian.compact(45_800) == "45.800"  # Italian writes thousands in full
    assert english.axis_labels([0, 5e8, 1e9, 1.5e9]) == ["0", "500M", "1B", "1.5B"]
    assert italian.axis_labels([0, 5e8, 1e9, 1.5e9]) == ["0", "500 Mln", "1 Mrd", "1,5 Mrd"]
    assert italian.axis_labels([0, 250_000]) == ["0", "250.000"]
    assert english.axis_labels([-500, 0, 2500]) == ["-500", "0", "2.5K"]


def test_nice_ticks_cover_zero_and_the_values() -> None:
    # 1.2e9 / 5 = 2.4e8: the next round step is 2.5e8, up to 5 steps = 1.25e9.
    assert nice_ticks([1.2e9]) == [0, 2.5e8, 5e8, 7.5e8, 1e9, 1.25e9]
    # -200 to 1,500: 1,700 / 5 = 340 -> 500.
    assert nice_ticks([-200, 1500]) == [-500, 0, 500, 1000, 1500]
    assert nice_ticks([]) == [0.0]


def figure_ticks(figure: go.Figure, language: str = "en") -> dict:
    fmt = Formatter("USD", ITALIAN if language == "it" else Formatter("USD").locale)
    ctx = ReportContext(AS_OF, 365, "USD", None, fmt, translator(language))
    spec = json.loads(html.unescape(str(chart(figure, "chart-test", 300, ctx).spec)))
    return spec["layout"]["yaxis"]


def test_chart_axes_never_read_g() -> None:
    bars = go.Figure(layout={"yaxis": {"tickformat": "~s"}})
    bars.add_bar(x=["a", "b"], y=[1.2e9, 3e8])
    axis = figure_ticks(bars)
    assert "tickformat" not in axis
    assert axis["ticktext"] == ["0", "250M", "500M", "750M", "1B", "1.25B"]
    assert not any("G" in text for text in axis["ticktext"])
    assert figure_ticks(bars, "it")["ticktext"][-1] == "1,25 Mrd"


def test_stacked_bars_and_waterfalls_are_ticked_to_their_tops() -> None:
    stacked = go.Figure(layout={"barmode": "stack", "yaxis": {"tickformat": "~s"}})
    stacked.add_bar(x=["Mar"], y=[7e8])
    stacked.add_bar(x=["Mar"], y=[5e8])
    assert figure_ticks(stacked)["tickvals"][-1] == 1.25e9  # 7e8 + 5e8 = 1.2e9
    waterfall = go.Figure(layout={"yaxis": {"tickformat": "~s"}})
    waterfall.add_waterfall(
        x=["start", "created", "won", "end"],
        y=[1e9, 6e8, -2e8, 1.4e9],
        measure=["absolute", "relative", "relative", "total"],
    )
    # Running levels 1e9, 1.6e9, 1.4e9: 1.6e9 / 5 = 3.2e8 -> step 5e8, top 2e9.
    axis = figure_ticks(waterfall)
    assert axis["tickvals"] == [0, 5e8, 1e9, 1.5e9, 2e9]
    assert axis["ticktext"] == ["0", "500M", "1B", "1.5B", "2B"]


def test_no_si_tick_format_reaches_the_page(no_history) -> None:
    _, page = no_history
    assert '"tickformat":"~s"' not in page
    assert not re.search(r'"ticktext":\[[^\]]*\d+(\.\d+)?G"', page)


def test_a_quarter_whose_lost_deals_have_no_stage_reads_not_measurable() -> None:
    """Last quarter's lost deals were all of unknown stage (before history was exported), this
    quarter's are placed: the table compares nothing with 100%."""
    ctx = ReportContext(AS_OF, 365, "USD", None, Formatter("USD"), translator("en"))
    row = {
        "pipeline": "default",
        "stage": "Proposal",
        "next_stage": None,
        "measured_now": True,
        "measured_before": False,
        "conversion_now": 0.5,
        "conversion_before": None,
        "resolved_now": 4,
    }
    measured = Measure("stage_conversion", True, "lost_stage_unknown", 3, 7)
    table, note = stage_conversion_blocks([row], measured, ctx)
    assert [cell.text for cell in table.rows[0]] == [
        "Proposal → Won",
        "not measurable",
        "50.0%",
        "—",
        "4",
    ]
    assert note.text == (
        "3 of 7 lost deals have no known last stage and are left out of the conversion; stage "
        "history would place them."
    )


def english_context(as_of: datetime) -> ReportContext:
    """The report's context in English and USD, for a card built on its own."""
    return ReportContext(
        as_of=as_of,
        lookback_days=365,
        currency="USD",
        built_at=None,
        fmt=Formatter(currency="USD", locale=LOCALES["en"]),
        t=translator("en"),
    )


def test_a_win_rate_change_on_a_handful_of_deals_is_not_read() -> None:
    ctx = english_context(datetime(2026, 9, 25))
    # 2 of 2 won this quarter after 0 of 2: "up 100 points" would be luck, not news.
    few = win_rate_card(ctx, KpiChange(1.0, 0.0, 1.0, None), 0.5, [], closed=(2, 2))
    assert few.change is None
    assert few.reading == (
        "2 deals closed this quarter and 2 the quarter before: too few to read a change of win "
        "rate."
    )
    # 12 and 10 closed deals: the change is read (10 is enough on both sides).
    enough = win_rate_card(ctx, KpiChange(0.5, 0.3, 0.2, None), 0.4, [], closed=(12, 10))
    assert enough.change is not None and enough.reading.startswith("Win rate rose 20.0 points")


def test_a_cycle_no_won_deal_can_measure_says_why() -> None:
    ctx = english_context(datetime(2023, 10, 28))
    # A demo org's deals were all "created" after they were won: no cycle to measure.
    missing = KpiChange(None, None, None, None)
    card = cycle_card(ctx, missing, None, won_deals=18)
    assert card.reading == (
        "Not measurable: none of the 18 deals won this quarter has a creation date before its "
        "close date (see Data quality)."
    )
    # No deal won at all: nothing to measure, and no claim about dates.
    assert cycle_card(ctx, missing, None, won_deals=0).reading == (
        "No comparison: the previous quarter has no value."
    )
