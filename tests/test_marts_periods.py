"""Fiscal periods, quarter and year rollups, period-over-period change and segment cuts.

One hand-built warehouse of a dozen deals; every expected number is worked out in the comments.
Fiscal years start in February (FY2025 = February 2024 to January 2025), so the deals closed on
31 January 2025 and 1 February 2025 fall in different fiscal years but the same calendar quarter.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from tests.conftest import GENERIC_CONFIG, run_cli, write
from tests.mart_fixtures import add_deal, build_as_of, new_warehouse, rows

AS_OF = datetime(2025, 3, 15, 12)
FEBRUARY = 2

# deal: (created_at, status, closed_at, amount_base, owner, lead_source, deal_type, segment)
DEALS = {
    "a": (datetime(2024, 1, 20), "won", datetime(2024, 2, 10), 100, "ann", "Inbound", "New", "EU"),
    "b": (datetime(2024, 1, 25), "lost", datetime(2024, 3, 5), 200, "bob", "Outbound", "New", "US"),
    # created at the first instant of fiscal 2025
    "c": (datetime(2024, 2, 1), "won", datetime(2024, 4, 30, 23, 59, 59), 300, "ann", "Inbound",
          "Renewal", "EU"),
    "k": (datetime(2024, 4, 15), "lost", datetime(2024, 10, 1), 60, "bob", "Outbound", "Renewal",
          "US"),
    "g": (datetime(2024, 5, 5), "open", None, 700, "ann", "Referral", "Renewal", "EU"),
    # closed an hour before fiscal 2025 ends ...
    "d": (datetime(2024, 12, 15), "won", datetime(2025, 1, 31, 23), 400, "bob", "Referral", "New",
          "US"),
    # ... and at the first instant of fiscal 2026
    "e": (datetime(2025, 1, 10), "won", datetime(2025, 2, 1), 500, "ann", "Inbound", "New", "EU"),
    "f": (datetime(2025, 2, 3), "lost", datetime(2025, 2, 20), 50, "cy", "Outbound", "New", None),
    "h": (datetime(2025, 3, 1), "open", None, 80, "bob", "Inbound", "New", "US"),
    "i": (datetime(2025, 3, 10), "won", datetime(2025, 3, 14), 90, "cy", "Referral", "New", "US"),
    # won five days after as_of: open at as_of
    "j": (datetime(2025, 3, 12), "won", datetime(2025, 3, 20), 1000, "ann", "Inbound", "New", "EU"),
    # created after as_of: unknown then
    "l": (datetime(2025, 4, 1), "open", None, 5, "ann", "Inbound", "New", "EU"),
}  # fmt: skip


def warehouse(tmp_path, fiscal_year_start_month: int) -> duckdb.DuckDBPyConnection:
    con = new_warehouse(tmp_path)
    for deal_id, (created, status, closed, amount, owner, source, kind, segment) in DEALS.items():
        add_deal(
            con,
            deal_id,
            created_at=created,
            status=status,
            closed_at=closed,
            amount_base=float(amount),
            owner=owner,
            lead_source=source,
            deal_type=kind,
            segment=segment,
        )
    build_as_of(con, AS_OF, fiscal_year_start_month=fiscal_year_start_month)
    return con


@pytest.fixture(scope="module")
def fiscal(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    return warehouse(tmp_path_factory.mktemp("fiscal"), FEBRUARY)


def periods(con: duckdb.DuckDBPyConnection, kind: str, dimension: str = "all", value: str = "all"):
    """mart_kpis_by_period rows of one kind and dimension value, keyed by period_start."""
    return {
        r["period_start"]: r
        for r in rows(
            con,
            "select * from mart_kpis_by_period "
            "where period_kind = ? and dimension = ? and dimension_value = ?",
            [kind, dimension, value],
        )
    }


def test_fiscal_years_start_in_february(fiscal):
    years = periods(fiscal, "year")
    # The first deal (a, January 2024) falls in FY2024 (Feb 2023 - Jan 2024); as_of in FY2026.
    assert list(years) == [date(2023, 2, 1), date(2024, 2, 1), date(2025, 2, 1)]
    fy24, fy25, fy26 = years.values()
    assert [y["fiscal_year"] for y in years.values()] == [2024, 2025, 2026]
    assert [y["is_partial"] for y in years.values()] == [False, False, True]
    assert fy25["period_end"] == datetime(2025, 1, 31, 23, 59, 59, 999999)
    assert fy26["period_end"] == AS_OF
    # FY2024: a and b created (100 + 200), both open at its end; nothing closed.
    assert (fy24["created_deals"], fy24["created_pipeline_base"]) == (2, 300.0)
    assert (fy24["won_deals"], fy24["lost_deals"], fy24["win_rate"]) == (0, 0, None)
    assert (fy24["open_deals_end"], fy24["open_pipeline_end"]) == (2, 300.0)
    # FY2025: won a (Feb 10), c, d (Jan 31 23:00) = 100 + 300 + 400; lost b, k = 200 + 60.
    # e (won Feb 1 00:00) belongs to FY2026. Created c (at the first instant), k, g, d, e:
    # 300 + 60 + 700 + 400 + 500 = 1960. Open at its end: g and e (won a second later): 1200.
    assert (fy25["won_deals"], fy25["won_amount_base"]) == (3, 800.0)
    assert (fy25["lost_deals"], fy25["lost_amount_base"]) == (2, 260.0)
    assert fy25["win_rate"] == pytest.approx(3 / 5)
    assert (fy25["created_deals"], fy25["created_pipeline_base"]) == (5, 1960.0)
    assert (fy25["open_deals_end"], fy25["open_pipeline_end"]) == (2, 1200.0)
    # FY2026 to as_of: won e, i (500 + 90), lost f (50); j closes after as_of. Created f, h, i,
    # j (50 + 80 + 90 + 1000); open at as_of: g, h, j (700 + 80 + 1000).
    assert (fy26["won_deals"], fy26["won_amount_base"], fy26["lost_deals"]) == (2, 590.0, 1)
    assert fy26["win_rate"] == pytest.approx(2 / 3)
    assert (fy26["created_deals"], fy26["created_pipeline_base"]) == (4, 1220.0)
    # created_won: of f, h, i, j only i was won by as_of.
    assert (fy26["created_won_deals"], fy26["created_to_won_rate"]) == (1, 0.25)
    assert (fy26["open_deals_end"], fy26["open_pipeline_end"]) == (3, 1780.0)


def test_fiscal_quarters_and_month_labels(fiscal):
    quarters = periods(fiscal, "quarter")
    # Quarters of a February year: Feb-Apr, May-Jul, Aug-Oct, Nov-Jan; January 2024 is in Q4 of
    # FY2024, which began in November 2023.
    assert list(quarters) == [
        date(2023, 11, 1),
        date(2024, 2, 1),
        date(2024, 5, 1),
        date(2024, 8, 1),
        date(2024, 11, 1),
        date(2025, 2, 1),
    ]
    labels = [(q["fiscal_year"], q["fiscal_quarter"]) for q in quarters.values()]
    assert labels == [(2024, 4), (2025, 1), (2025, 2), (2025, 3), (2025, 4), (2026, 1)]
    q1 = quarters[date(2024, 2, 1)]
    # Feb-Apr 2024: won a, c (Apr 30 23:59:59) = 400; lost b = 200; created c, k.
    assert (q1["won_deals"], q1["won_amount_base"], q1["lost_deals"]) == (2, 400.0, 1)
    assert q1["win_rate"] == pytest.approx(2 / 3)
    assert q1["created_deals"] == 2
    q4 = quarters[date(2024, 11, 1)]
    assert (q4["won_deals"], q4["won_amount_base"], q4["win_rate"]) == (1, 400.0, 1.0)  # d
    monthly = {r["month"]: r for r in rows(fiscal, "select * from mart_kpis_monthly")}
    assert (
        monthly[date(2024, 1, 1)]["fiscal_year"],
        monthly[date(2024, 1, 1)]["fiscal_quarter"],
    ) == (
        2024,
        4,
    )
    assert (
        monthly[date(2025, 2, 1)]["fiscal_year"],
        monthly[date(2025, 2, 1)]["fiscal_quarter"],
    ) == (
        2026,
        1,
    )
    assert monthly[date(2025, 3, 1)]["is_partial"] is True


def test_calendar_quarter_keeps_the_january_and_february_closes_together(tmp_path):
    con = warehouse(tmp_path, 1)
    quarters = periods(con, "quarter")
    q1 = quarters[date(2025, 1, 1)]
    # Jan-Mar 2025 (to as_of): won d, e, i = 400 + 500 + 90; lost f.
    assert (q1["fiscal_year"], q1["fiscal_quarter"]) == (2025, 1)
    assert (q1["won_deals"], q1["won_amount_base"], q1["lost_deals"]) == (3, 990.0, 1)
    years = periods(con, "year")
    assert list(years) == [date(2024, 1, 1), date(2025, 1, 1)]
    assert [y["fiscal_year"] for y in years.values()] == [2024, 2025]


def test_change_against_previous_period_and_previous_year(fiscal):
    def change(kind: str, start: date, kpi: str) -> dict:
        (row,) = rows(
            fiscal,
            "select * from mart_kpi_changes where dimension = 'all' and period_kind = ? "
            "and period_start = ? and kpi = ?",
            [kind, start, kpi],
        )
        return row

    won = change("quarter", date(2025, 2, 1), "won_amount_base")
    # Q1 FY2026 (to as_of) 590 vs Q4 FY2025 400 (d) and vs Q1 FY2025 400 (a, c).
    assert (won["value"], won["prev_period_value"], won["prev_year_value"]) == (590, 400, 400)
    assert won["change_vs_prev_period"] == 190
    assert won["rel_change_vs_prev_period"] == pytest.approx(190 / 400)
    assert won["is_partial"] is True
    rate = change("quarter", date(2025, 2, 1), "win_rate")
    # 2/3 now; 1/1 in Q4 FY2025 (-1/3 point change); 2/3 a year before (no change).
    assert rate["value"] == pytest.approx(2 / 3)
    assert rate["change_vs_prev_period"] == pytest.approx(-1 / 3)
    assert rate["change_vs_prev_year"] == pytest.approx(0.0)
    year = change("year", date(2025, 2, 1), "won_amount_base")
    # FY2026 590 vs FY2025 800: -210, -26.25%; for years, previous period = previous year.
    assert (year["change_vs_prev_period"], year["change_vs_prev_year"]) == (-210, -210)
    assert year["rel_change_vs_prev_year"] == pytest.approx(-0.2625)
    first = change("quarter", date(2023, 11, 1), "created_deals")
    # nothing before the first quarter: no previous value, no change
    assert (first["value"], first["prev_period_value"], first["change_vs_prev_period"]) == (
        2,
        None,
        None,
    )
    zero = change("quarter", date(2024, 8, 1), "won_amount_base")
    # Aug-Oct 2024: nothing won (0) after 0 in May-Jul: relative change has no base.
    assert (zero["value"], zero["prev_period_value"], zero["rel_change_vs_prev_period"]) == (
        0,
        0,
        None,
    )


def test_segment_cuts_over_the_trailing_window(fiscal):
    cuts = {
        (r["dimension"], r["dimension_value"]): r
        for r in rows(fiscal, "select * from mart_kpis_by_dimension")
    }
    # Window: 2024-03-15 12:00 (exclusive) to as_of. Closed in it: c, d, e, i won
    # (300 + 400 + 500 + 90 = 1290), k, f lost; b (Mar 5) and a closed before it.
    everyone = cuts[("all", "all")]
    assert (everyone["won_deals"], everyone["won_amount_base"], everyone["lost_deals"]) == (
        4,
        1290.0,
        2,
    )
    assert everyone["win_rate"] == pytest.approx(4 / 6)
    # Created in the window: k, g, d, e, f, h, i, j (c on Feb 1 is before it); of them d, e, i won.
    assert (everyone["created_deals"], everyone["created_won_deals"]) == (8, 3)
    assert everyone["created_to_won_rate"] == pytest.approx(3 / 8)
    mart_kpis = rows(fiscal, "select won_deals, lost_deals, created_deals from mart_kpis")
    assert mart_kpis == [{"won_deals": 4, "lost_deals": 2, "created_deals": 8}]

    def kpis(dimension: str, value: str) -> tuple:
        r = cuts[(dimension, value)]
        return r["won_deals"], r["lost_deals"], r["open_deals"], r["open_pipeline_base"]

    # segment EU: c, e won; g, j open (700 + 1000). US: d, i won, k lost, h open (80).
    assert kpis("segment", "EU") == (2, 0, 2, 1700.0)
    assert kpis("segment", "US") == (2, 1, 1, 80.0)
    assert kpis("segment", "(none)") == (0, 1, 0, 0.0)  # f has no segment
    # deal type Renewal: c won, k lost, g open. New: d, e, i won, f lost, h, j open.
    assert kpis("deal_type", "Renewal") == (1, 1, 1, 700.0)
    assert kpis("deal_type", "New") == (3, 1, 2, 1080.0)
    assert kpis("pipeline", "default") == (4, 2, 3, 1780.0)
    assert kpis("owner", "cy") == (1, 1, 0, 0.0)
    assert kpis("lead_source", "Outbound") == (0, 2, 0, 0.0)
    assert cuts[("deal_type", "Renewal")]["win_rate"] == 0.5
    # every owner had a deal open, closed or created in the window; l (after as_of) counts nowhere
    assert {v for d, v in cuts if d == "owner"} == {"ann", "bob", "cy"}


def test_period_cuts_have_zero_rows_once_a_value_exists(fiscal):
    outbound = periods(fiscal, "quarter", "lead_source", "Outbound")
    # Outbound deals: b (created Jan 2024), k, f. Its rows start with b's quarter; in Nov-Jan
    # nothing Outbound happened, so the row is zeros (win rate NULL), not missing.
    assert min(outbound) == date(2023, 11, 1)
    quiet = outbound[date(2024, 11, 1)]
    assert (quiet["created_deals"], quiet["won_deals"], quiet["lost_deals"]) == (0, 0, 0)
    assert (quiet["open_deals_end"], quiet["win_rate"]) == (0, None)
    # cy's first deal (f) was created in February 2025: only fiscal 2026 has a cy row.
    assert list(periods(fiscal, "year", "owner", "cy")) == [date(2025, 2, 1)]
    ann = periods(fiscal, "year", "owner", "ann")[date(2025, 2, 1)]
    # ann in FY2026: e won (500), j created; g and j open at as_of (700 + 1000).
    assert (ann["won_deals"], ann["won_amount_base"], ann["created_deals"]) == (1, 500.0, 1)
    assert (ann["open_deals_end"], ann["open_pipeline_end"]) == (2, 1700.0)


@pytest.mark.slow
def test_config_fiscal_year_start_reaches_the_build(tmp_path, capsys):
    config = GENERIC_CONFIG.format(history="").replace(
        'currency = "USD"', 'currency = "USD"\nfiscal_year_start_month = 2'
    )
    write(tmp_path / "p.toml", config)
    write(
        tmp_path / "deals.csv",
        "id,stage,created,closed,value,rep\nD1,Won,2024-01-20,2024-02-10,100,ann\n",
    )
    assert run_cli(tmp_path, "-q", "ingest") == 0
    assert run_cli(tmp_path, "-q", "build") == 0
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select fiscal_year_start_month from build_params").fetchall() == [(2,)]
    years = con.execute(
        "select period_start, fiscal_year, won_deals from mart_kpis_by_period "
        "where period_kind = 'year' and dimension = 'all' order by period_start"
    ).fetchall()
    # created in January 2024 (fiscal 2024), won in February 2024 (fiscal 2025)
    assert years == [(date(2023, 2, 1), 2024, 0), (date(2024, 2, 1), 2025, 1)]
    con.close()

    write(
        tmp_path / "p.toml",
        config.replace("fiscal_year_start_month = 2", "fiscal_year_start_month = 13"),
    )
    assert run_cli(tmp_path, "build") == 2
    assert (
        "key 'pipeline.fiscal_year_start_month' must be a month number" in capsys.readouterr().err
    )
