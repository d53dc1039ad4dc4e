"""The marts that hold what the report used to derive itself, on tiny hand-built inputs.

Each test writes the tables a model reads and runs the model's SQL file; the report's own tests
(test_report.py) check how the sections show them.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from pipeline_analytics.report.data import fetch
from tests.conftest import REPO

AS_OF = datetime(2026, 3, 14, 12, 0)


def run_model(con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    con.execute(f"create or replace table {name} as {(REPO / 'sql' / f'{name}.sql').read_text()}")
    return fetch(con, f"select * from {name}")


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "create table build_params as select ?::timestamp as as_of, 365 as lookback_days", [AS_OF]
    )
    return con


def closed_deals(con: duckdb.DuckDBPyConnection, deals: list[tuple]) -> None:
    """mart_deal_cycle from (status, cycle_days, closed_at) rows; cycle None = no created_at."""
    con.execute(
        "create table mart_deal_cycle (status varchar, created_at timestamp, "
        "closed_at timestamp, cycle_days double)"
    )
    con.executemany(
        "insert into mart_deal_cycle select ?, ?::timestamp - to_days(?::integer), ?, ?",
        [(status, closed, cycle or 0, closed, cycle) for status, cycle, closed in deals],
    )
    con.execute("update mart_deal_cycle set created_at = null where cycle_days is null")


@pytest.mark.parametrize(
    ("longest_days", "width_days"),
    [
        (0, 1),
        (24, 1),  # 24 / 24 bins = 1 day
        (120, 7),  # 5 days -> a week
        (2000, 90),  # 83.3 days -> a quarter
        (24 * 400, 730),  # 400 days -> two years
    ],
)
def test_bin_widths_are_readable(con, longest_days: int, width_days: int) -> None:
    # One deal: its cycle is the 99th percentile the bins cover.
    closed_deals(con, [("won", longest_days, datetime(2026, 3, 1))])
    (summary,) = run_model(con, "mart_time_to_close")
    assert summary["bin_width_days"] == width_days


def test_time_to_close_counts_the_window_and_the_deals_without_creation_date(con) -> None:
    closed_deals(
        con,
        [
            ("won", 3, datetime(2026, 3, 1)),
            ("won", 10, datetime(2026, 2, 1)),
            ("lost", 1, datetime(2026, 1, 15)),
            ("lost", None, datetime(2026, 1, 20)),  # no creation date: excluded, not binned
            ("won", 500, datetime(2024, 5, 1)),  # closed before the window
        ],
    )
    (summary,) = run_model(con, "mart_time_to_close")
    assert (summary["closed_deals"], summary["closed_without_created_at"]) == (5, 1)
    assert (summary["binned_deals"], summary["excluded_deals"]) == (3, 1)
    assert (summary["won_median_days"], summary["lost_median_days"]) == (6.5, 1.0)
    # p99 of 1, 3, 10 = 3 + 0.98 * 7 = 9.86: bins of 1 day, 10 up to 10, and the 10-day deal
    # in an open-ended 11th.
    assert summary["bin_width_days"] == 1
    assert (summary["bins"], summary["open_ended_last_bin"]) == (11, True)
    bins = run_model(con, "mart_time_to_close_bins")
    assert [(b["status"], b["bin"], b["bin_start_days"], b["deals"]) for b in bins] == [
        ("lost", 1, 1, 1),
        ("won", 3, 3, 1),
        ("won", 10, 10, 1),
    ]


def test_time_to_close_without_a_binned_deal_has_no_bins(con) -> None:
    closed_deals(con, [("lost", None, datetime(2026, 1, 20))])
    (summary,) = run_model(con, "mart_time_to_close")
    assert (summary["binned_deals"], summary["excluded_deals"]) == (0, 1)
    assert summary["bin_width_days"] is None and summary["bins"] is None
    assert run_model(con, "mart_time_to_close_bins") == []


def test_files_loaded_counts_every_loaded_file(con) -> None:
    con.execute(
        """
        create table ingest_batches as select * from (values
            ('loaded', timestamp '2026-03-01 00:00:00', 100, 98, 2, timestamp '2026-03-02 08:00'),
            ('loaded', null, 10, 10, 0, timestamp '2026-03-03 08:00'),
            ('failed', timestamp '2026-03-01 00:00:00', 50, 0, 50, timestamp '2026-03-04 08:00'),
            ('loaded', timestamp '2026-03-20 00:00:00', 7, 7, 0, timestamp '2026-03-21 08:00')
        ) as t(status, snapshot_at, rows_read, rows_loaded, rows_rejected, finished_at)
        """
    )
    # Every loaded file, also one taken after as_of; not the failed one.
    assert run_model(con, "mart_files_loaded") == [
        {"files": 3, "rows_read": 117, "rows_loaded": 115, "rows_rejected": 2}
    ]


def test_reject_reasons_add_up_sources_and_kinds_of_file(con) -> None:
    con.execute(
        """
        create table mart_rejects as select * from (values
            ('crm', 'deals', 'amount', 'cannot read ''…'' as a number', 3, 1),
            ('crm2', 'deals', 'amount', 'cannot read ''…'' as a number', 2, 2),
            ('crm', 'history', 'amount', 'cannot read ''…'' as a number', 1, 1),
            ('crm', 'deals', '(whole line)', 'too many fields', 4, 1)
        ) as t(source, object, column_name, reason, rejected_rows, files)
        """
    )
    assert [tuple(r.values()) for r in run_model(con, "mart_reject_reasons")] == [
        ("amount", "cannot read '…' as a number", 6, 4),
        ("(whole line)", "too many fields", 4, 1),
    ]


def test_no_quarter_before_the_current_one_leaves_no_conversion_change(con) -> None:
    con.execute("alter table build_params add column fiscal_year_start_month integer")
    con.execute(
        """
        create table mart_kpis_by_period as select
            'quarter' as period_kind, date '2026-01-01' as period_start,
            timestamp '2026-03-14 12:00:00' as period_end, true as is_partial,
            2026 as fiscal_year, 1 as fiscal_quarter, 'all' as dimension,
            'all' as dimension_value, 30.0::double as mean_cycle_days_won
        """
    )
    con.execute(
        """
        create table mart_kpi_changes as select
            'quarter' as period_kind, date '2026-01-01' as period_start, 'all' as dimension,
            'win_rate' as kpi, 0.5::double as value, null::double as prev_period_value,
            null::double as change_vs_prev_period, null::double as rel_change_vs_prev_period
        """
    )
    kpis = {r["kpi"]: r for r in run_model(con, "mart_kpi_quarter_changes")}
    assert sorted(kpis) == ["mean_cycle_days_won", "win_rate"]
    cycle = kpis["mean_cycle_days_won"]
    assert (cycle["value"], cycle["prev_period_value"], cycle["prev_period_start"]) == (
        30,
        None,
        None,
    )
    assert cycle["fiscal_year_start_month"] == 1  # unset: January
    con.execute("create table stages (pipeline varchar, stage varchar, stage_order integer)")
    con.execute("insert into stages values ('default', 'Qualified', 1)")
    con.execute(
        "create table int_deals_as_of (source varchar, deal_id varchar, status varchar, "
        "closed_at timestamp)"
    )
    con.execute(
        "create table int_deal_progress (source varchar, deal_id varchar, pipeline varchar, "
        "status varchar, max_open_stage_order integer, lost_stage_unknown boolean)"
    )
    assert run_model(con, "mart_conversion_quarter_changes") == []
