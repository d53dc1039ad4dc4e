"""The HTML report, rendered from mart tables built here by hand (not by the SQL models).

Fixture as_of is 2026-03-14 12:00 with a 365-day window, so the window is
(2025-03-14 12:00, 2026-03-14 12:00].
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import plotly.offline
import pytest

from pipeline_analytics.report import render_report
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.report.sections import KPI_COLUMNS, cycle_histogram, nice_bin_width
from pipeline_analytics.warehouse import connect

AS_OF = datetime(2026, 3, 14, 12, 0)
TITLE = "Pipeline report"
PAYLOAD = "</script><img src=x onerror=alert(1)>"
PLOTLY_JS = plotly.offline.get_plotlyjs()


def make_warehouse(
    path: Path,
    *,
    stage_name: str = "Qualified",
    owner_name: str = "Alice",
    second_pipeline: str | None = None,
    cycle_deals: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Core tables from `connect`, then build_params and every mart the report reads."""
    con = connect(path)
    con.execute(
        "insert into build_params values (?, 365, 'USD', timestamp '2026-03-14 13:00:00')",
        [AS_OF],
    )
    # win_rate = 7 / 17; velocity = 12 open x 7/17 x 45,250.5 avg won / 42.25 mean days.
    con.execute(
        """
        create table mart_kpis as select
            timestamp '2026-03-14 12:00:00' as as_of, 12 as open_deals,
            1234567.0 as open_pipeline_base, 7 as won_deals, 10 as lost_deals,
            7 / 17 as win_rate, 0.38 as win_rate_amount, 45250.5 as avg_won_size,
            40000.0 as median_won_size, 42.25 as mean_cycle_days_won,
            38.5 as median_cycle_days_won,
            12 * (7 / 17) * 45250.5 / 42.25 as sales_velocity_per_day,
            365 as lookback_days, timestamp '2025-03-14 12:00:00' as window_start
        """
    )
    # Counts chain: 20 reached Prospecting = 14 advanced + 4 lost + 2 open; 14 = 10 + 3 + 1.
    con.execute(
        """
        create table mart_stage_conversion as select * from (values
            ('default', 'Prospecting', 1, 20, 14, 4, 2, 14 / 18, 7 / 17),
            ('default', $stage, 2, 14, 10, 3, 1, 10 / 13, 7 / 13),
            ('default', 'Proposal', 3, 10, 7, 3, 0, 7 / 10, 7 / 10)
        ) as t(pipeline, stage, stage_order, reached, advanced, lost_here, open_here,
               conversion_rate, win_rate_from_stage)
        """,
        {"stage": stage_name},
    )
    if second_pipeline is not None:
        con.execute(
            "insert into mart_stage_conversion values (?, 'Intro', 1, 5, 3, 2, 0, 0.6, 0.4)",
            [second_pipeline],
        )
    con.execute(
        """
        create table mart_kpis_monthly as select
            month::date as month, won_deals, won_amount_base
        from (values
            ('2025-12-01', 2, 90000.0),
            ('2026-01-01', 3, 120000.0),
            ('2026-02-01', 1, 30000.0),
            ('2026-03-01', 1, 15000.0)
        ) as t(month, won_deals, won_amount_base)
        """
    )
    # Open deals 10 / 6 / 2: median 6, so load ratios 10/6 = 1.67 (over), 1.0, 2/6 = 0.33 (under).
    con.execute(
        """
        create table mart_rep_performance as select * from (values
            ($owner, 10, 500000.0, 10 / 6, true, false, 4, 2, 4 / 6, 50000.0, 30.5, 900.0),
            ('Bob', 6, 400000.0, 1.0, false, false, 2, 5, 2 / 7, 42000.0, 55.0, 200.0),
            ('Carol', 2, 90000.0, 2 / 6, false, true, 1, 3, 1 / 4, NULL, NULL, NULL)
        ) as t(owner, open_deals, open_pipeline_base, load_ratio, over_allocated, under_allocated,
               won_deals, lost_deals, win_rate, avg_won_size, median_cycle_days_won,
               sales_velocity_per_day)
        """,
        {"owner": owner_name},
    )
    if cycle_deals is None:
        create_hand_picked_cycles(con)
    else:
        create_many_cycles(con, cycle_deals)
    return con


def create_hand_picked_cycles(con: duckdb.DuckDBPyConnection) -> None:
    """In the window: won 3, 10, 12, 40 days; lost 1, 5; one closed before created (-2).
    Outside it: a won deal closed in 2024 (500 days), which must not count."""
    con.execute(
        """
        create table mart_deal_cycle as
        select 'crm' as source, deal_id, status, closed_at - to_days(cycle_days) as created_at,
            closed_at, cycle_days::double as cycle_days, 1000.0 as amount_base, 'Alice' as owner,
            'web' as lead_source, date_trunc('month', closed_at)::date as close_month
        from (values
            ('1', 'won', 3, timestamp '2026-03-01 00:00:00'),
            ('2', 'won', 10, timestamp '2026-02-01 00:00:00'),
            ('3', 'won', 12, timestamp '2025-12-01 00:00:00'),
            ('4', 'won', 40, timestamp '2025-06-01 00:00:00'),
            ('5', 'lost', 1, timestamp '2026-01-15 00:00:00'),
            ('6', 'lost', 5, timestamp '2025-04-01 00:00:00'),
            ('7', 'won', -2, timestamp '2026-02-20 00:00:00'),
            ('8', 'won', 500, timestamp '2024-05-01 00:00:00')
        ) as t(deal_id, status, cycle_days, closed_at)
        """
    )


def create_many_cycles(con: duckdb.DuckDBPyConnection, deals: int) -> None:
    """`deals` closed deals spread over the window with cycles of 0.5 to 119.5 days."""
    con.execute(
        """
        create table mart_deal_cycle as
        select 'crm' as source, i::varchar as deal_id,
            case when i % 3 = 0 then 'lost' else 'won' end as status,
            closed_at - to_days(cycle_days::integer) as created_at, closed_at, cycle_days,
            1000.0 as amount_base, 'owner ' || (i % 7) as owner, 'web' as lead_source,
            date_trunc('month', closed_at)::date as close_month
        from (
            select i, timestamp '2026-03-14 00:00:00' - to_days((i % 300)::integer) as closed_at,
                ((i * 7) % 120) + 0.5 as cycle_days
            from range(?) as r(i)
        )
        """,
        [deals],
    )


def add_forecast(con: duckdb.DuckDBPyConnection, *, with_bands: bool) -> None:
    con.execute(
        "insert into forecast_runs values (1, ?, timestamp '2026-03-14 13:05:00', 3, 1000, 7, "
        "'engine', '{}')",
        [AS_OF],
    )
    band = "p10, p50, p90" if with_bands else "NULL, NULL, NULL"
    con.execute(
        f"""
        insert into forecast_bookings
        select 1, month::date, 'open_pipeline', mean, {band}
        from (values
            ('2026-03-01', 40000.0, 20000.0, 38000.0, 65000.0),
            ('2026-04-01', 80000.0, 45000.0, 78000.0, 120000.0),
            ('2026-05-01', 60000.0, 25000.0, 57000.0, 101000.0)
        ) as t(month, mean, p10, p50, p90)
        """
    )


def section_html(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}" class="section">(.*?)</section>', page, re.S)
    assert match, f"section {key} missing"
    return match.group(1)


def script_bodies(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, re.S)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("report")
    con = make_warehouse(folder / "warehouse.duckdb")
    path = render_report(con, output_dir=folder / "reports", title=TITLE)
    return path, path.read_text(encoding="utf-8"), con


def test_dated_and_latest_reports_are_written_identically(report) -> None:
    path, page, _ = report
    assert path.name == "pipeline-report-2026-03-14.html"
    assert (path.parent / "latest.html").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "latest.html",
        "pipeline-report-2026-03-14.html",
    ]


def test_plotly_js_is_embedded_exactly_once(report) -> None:
    _, page, _ = report
    assert page.count(PLOTLY_JS) == 1
    assert page.count("plotly.js v") == 1  # the bundle's licence banner


def test_every_kpi_value_equals_mart_kpis(report) -> None:
    _, page, con = report
    shown = dict(re.findall(r'data-kpi="(\w+)" data-value="([^"]*)"', page))
    cursor = con.execute(f"select {', '.join(KPI_COLUMNS)} from mart_kpis")
    stored = dict(zip([c[0] for c in cursor.description], cursor.fetchall()[0], strict=True))
    assert set(shown) == set(KPI_COLUMNS)
    for column, value in stored.items():
        assert float(shown[column]) == float(value), column


def test_kpi_cards_show_formatted_values(report) -> None:
    _, page, _ = report
    kpis = section_html(page, "kpis")
    # 7 / 17 = 41.18% -> 41.2%; 1,234,567 -> $1.23M; 42.25 is exact in binary, so one decimal
    # rounds half to even: 42.2.
    assert 'data-value="0.4117647058823529">41.2%</span>' in kpis
    assert 'data-value="1234567.0">$1.23M</span>' in kpis
    assert "USD 1,234,567" in kpis
    assert 'data-value="42.25">42.2 days</span>' in kpis
    assert "from 2025-03-14 to 2026-03-14" in kpis


def test_forecast_section_says_not_available_when_no_run_is_stored(report) -> None:
    _, page, _ = report
    bookings = section_html(page, "bookings")
    assert "Forecast not available yet" in bookings
    assert 'id="chart-bookings"' in bookings  # history is still shown


def test_forecast_without_bands_shows_expected_line_and_says_why(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    add_forecast(con, with_bands=False)
    page = render_report(con, output_dir=tmp_path, title=TITLE).read_text(encoding="utf-8")
    bookings = section_html(page, "bookings")
    assert "not available yet" not in bookings
    assert "bands arrive with the forecast engine" in bookings
    assert "USD 80,000" in bookings  # April's expected value, in the table
    assert "P10" not in bookings


def test_forecast_with_bands_shows_percentiles(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    add_forecast(con, with_bands=True)
    page = render_report(con, output_dir=tmp_path, title=TITLE).read_text(encoding="utf-8")
    bookings = section_html(page, "bookings")
    assert "bands arrive" not in bookings
    assert "USD 45,000" in bookings and "USD 120,000" in bookings  # April's P10 and P90
    assert '"fill":"tonexty"' in bookings


def test_missing_and_empty_marts_leave_a_message_instead_of_failing(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    con.execute("drop table mart_rep_performance")
    con.execute("delete from mart_kpis")
    page = render_report(con, output_dir=tmp_path, title=TITLE).read_text(encoding="utf-8")
    assert "the warehouse has no mart_rep_performance table" in section_html(page, "reps")
    assert "mart_kpis has no rows" in section_html(page, "kpis")
    assert "data-kpi=" not in page
    assert 'id="chart-funnel-1"' in page  # the other sections are unaffected


def test_crm_names_cannot_inject_markup_or_scripts(tmp_path: Path) -> None:
    con = make_warehouse(
        tmp_path / "w.duckdb", stage_name=PAYLOAD, owner_name=PAYLOAD, second_pipeline=PAYLOAD
    )
    page = render_report(con, output_dir=tmp_path, title=TITLE).read_text(encoding="utf-8")
    assert PAYLOAD not in page
    assert "<img" not in page.lower()
    # Ours: plotly.js, bookings, two funnels (two pipelines), time to close, the page script.
    assert len(re.findall(r"<script\b", page, re.I)) == 6
    assert len(re.findall(r"</script\s*>", page, re.I)) == 6
    # Shown as text in the stage table, rep table and pipeline heading ...
    escaped = "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert page.count(escaped) >= 3
    # ... and inside the funnel's JSON as an HTML-escaped label with &, < and > as \u escapes.
    assert "\\u0026lt;/script\\u0026gt;\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page


def test_content_security_policy_allows_exactly_the_embedded_scripts(report) -> None:
    _, page, _ = report
    policy = html.unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    )
    allowed = set(re.findall(r"'sha256-([^']+)'", policy))
    embedded = {
        base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in script_bodies(page)
    }
    # plotly.js + bookings + funnel + time to close + page script
    assert len(embedded) == 5
    assert allowed == embedded
    assert "default-src 'none'" in policy


def test_no_network_references(report) -> None:
    _, page, _ = report
    # plotly.js holds URLs in strings for map tiles and attributions we never use; the CSP's
    # default-src 'none' would block them anyway. Everything else must hold no URL at all.
    ours = page.replace(PLOTLY_JS, "")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", ours, re.I)
    assert not re.search(r"https?://", ours)
    assert not re.search(r"<link\b|@import|@font-face|url\(", ours, re.I)


def test_report_is_printable_and_tables_are_sortable(report) -> None:
    _, page, _ = report
    assert "@media print" in page
    reps = section_html(page, "reps")
    assert '<table class="data sortable">' in reps
    assert reps.count("<button") == 10  # one per column
    assert "sortTable" in page


def test_rep_table_flags_load_and_sorts_on_raw_values(report) -> None:
    _, page, _ = report
    rows = re.findall(r"<tr>(.*?)</tr>", section_html(page, "reps").split("<tbody>")[1], re.S)
    # Ordered by open pipeline: Alice 500,000, Bob 400,000, Carol 90,000.
    assert [re.search(r'data-sort="([^"]*)"', row).group(1) for row in rows] == [
        "Alice",
        "Bob",
        "Carol",
    ]
    assert 'data-sort="1.6666666666666667">1.67× <span class="flag flag-warn">' in rows[0]
    assert "over-allocated" in rows[0] and "allocated" not in rows[1]
    assert "under-allocated" in rows[2]
    # Carol has no won deal: blank sort key (sorts last) and a dash.
    assert '<td class="num" data-sort="">—</td>' in rows[2]


def test_time_to_close_is_binned_in_the_window() -> None:
    con = duckdb.connect()
    con.execute(
        "create table build_params as select ?::timestamp as as_of, 365 as lookback_days", [AS_OF]
    )
    create_hand_picked_cycles(con)
    histogram = cycle_histogram(con)
    # Binned (window, cycle >= 0): 1, 3, 5, 10, 12, 40. p99 = 12 + 0.95 * (40 - 12) = 38.6;
    # 38.6 / 24 bins = 1.6 -> width 2; last bin = ceil(38.6 / 2) = 20, open-ended (40 lands there).
    assert histogram.bin_width == 2
    assert histogram.open_ended_last_bin
    assert len(histogram.bin_starts) == 21
    assert histogram.bin_label(0) == "0–2" and histogram.bin_label(20) == "≥ 40"
    won, lost = [0] * 21, [0] * 21
    won[1] = won[5] = won[6] = won[20] = 1  # 3 -> 1, 10 -> 5, 12 -> 6, 40 -> 20
    lost[0] = lost[2] = 1  # 1 -> 0, 5 -> 2
    assert histogram.won == tuple(won)
    assert histogram.lost == tuple(lost)
    assert histogram.won_median_days == 11.0  # (10 + 12) / 2
    assert histogram.lost_median_days == 3.0  # (1 + 5) / 2
    assert histogram.excluded_deals == 1  # the -2 day deal; the 2024 deal is outside the window


def test_bin_widths_are_readable() -> None:
    assert nice_bin_width(0) == 1
    assert nice_bin_width(24) == 1  # 24 / 24 = 1
    assert nice_bin_width(120) == 7  # 5 -> a week
    assert nice_bin_width(2000) == 90  # 83.3 -> a quarter
    assert nice_bin_width(24 * 400) == 730  # 400 -> two years


def test_report_size_does_not_grow_with_deals(tmp_path: Path) -> None:
    sizes = []
    for deals in (100, 10_000):
        con = make_warehouse(tmp_path / f"w{deals}.duckdb", cycle_deals=deals)
        sizes.append(
            render_report(con, output_dir=tmp_path / str(deals), title=TITLE).stat().st_size
        )
    assert abs(sizes[1] - sizes[0]) < 2_000


def test_formatter() -> None:
    fmt = Formatter(currency="USD")
    assert fmt.money(1234567.4) == "USD 1,234,567"
    assert fmt.money_compact(1234567) == "$1.23M"
    assert fmt.money_compact(999_999) == "$1.00M"  # rounds up into the next unit
    assert fmt.money_compact(12_345) == "$12.3K"
    assert fmt.money_compact(950) == "$950"
    assert Formatter(currency="CHF").money_compact(-2_500_000) == "-CHF 2.50M"
    assert fmt.percent(0.4123) == "41.2%"
    assert fmt.days(12.34) == "12.3 days"
    assert fmt.ratio(1 / 3) == "0.33×"
    assert fmt.money(None) == fmt.percent(float("nan")) == "—"
    assert fmt.month(date(2026, 3, 1)) == "Mar 2026"
