"""The HTML report, rendered from a warehouse built by the real SQL models (every model of sql/)
over a small core fixture written here by hand (stages, deals, stage events, snapshots, a loaded
batch), with the forecast engine's tables written by hand; every number on the page is checked
against arithmetic on the fixture, in the comments.

Fixture dates: as_of is 2026-03-14 12:00 with a 365-day window (closed after 2025-03-14 12:00);
the current quarter is Q1 2026 (to date) and the previous one Q4 2025.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import plotly.offline
import pytest

from pipeline_analytics.build import build, create_models, model_graph
from pipeline_analytics.config import parse_config
from pipeline_analytics.errors import ConfigError
from pipeline_analytics.report import render_report
from pipeline_analytics.report.data import fetch
from pipeline_analytics.report.formatting import ENGLISH, ITALIAN, Formatter
from pipeline_analytics.report.i18n import translator
from pipeline_analytics.report.model import ReportContext
from pipeline_analytics.report.sections.accuracy import SCORES_SQL
from pipeline_analytics.report.sections.flow import FLOW_SQL
from pipeline_analytics.report.sections.pipeline import (
    STAGE_DAYS_SQL,
    cycle_histogram,
    sankey_flows,
)
from pipeline_analytics.report.sections.summary import (
    stage_changes,
    summary_quarters,
    win_rate_driver,
)
from pipeline_analytics.warehouse import connect
from tests.mart_fixtures import add_deal, build_as_of, new_warehouse

AS_OF = datetime(2026, 3, 14, 12, 0)
PLOTLY_JS = plotly.offline.get_plotlyjs()
SECTION_KEYS = [
    "summary",
    "forecast",
    "changes",
    "cashflow",
    "categories",
    "slippage",
    "funnel",
    "speed",
    "bottlenecks",
    "team",
    "sources",
    "flow",
    "accuracy",
    "quality",
    "method",
]


@dataclass(frozen=True)
class CrmNames:
    """Every CRM-supplied name the report shows; the security tests fill them with markup."""

    stage: str = "Qualified"
    owner: str = "Alice"
    pipeline: str = "default"
    deal: str = "Acme renewal"
    account: str = "Acme"
    lead_source: str = "Web"
    deal_id: str = "OPP-1"


# The core fixture. Stages: Prospecting (1), Qualified (2, CrmNames.stage), Proposal (3), then Won
# and Lost. Owners and their lead source: Alice (CrmNames.owner) brings Web (CrmNames.lead_source)
# deals, Bob and Carol Events deals; p6 (lost in Q4 2025) has no owner and came from Events.
OWNERS = {
    "alice": None,
    "bob": ("Bob", "Events"),
    "carol": ("Carol", "Events"),
    "nobody": (None, "Events"),
}

# Closed deals: id, owner, status, closed on (midnight), cycle days (created that many days
# earlier), amount, the highest open stage reached (None: lost at an unknown stage).
#   Q4 2025: 4 won (Oct 50,000, Nov 60,000, Dec 40,000 + 40,000 = 190,000, 40 days each);
#     lost 2 at Prospecting, 2 at Qualified, 2 at Proposal. Win rate 4 / 10.
#   Q1 2026 to date: 3 won (Jan 120,000, Feb 30,000, Mar 15,000 = 165,000, 30 days each);
#     lost 3 at Prospecting, 6 at Qualified, 3 at Proposal, 2 at an unknown stage: 3 / 17.
#   x1: won in June 2025 after 100 days (10,000). Every lost deal: 10,000, 20 days.
CLOSED_DEALS = [
    ("p1", "alice", "won", "2025-10-15", 40, 50000.0, 3),
    ("p2", "bob", "won", "2025-11-15", 40, 60000.0, 3),
    ("p3", "alice", "won", "2025-12-10", 40, 40000.0, 3),
    ("p4", "bob", "won", "2025-12-10", 40, 40000.0, 3),
    ("p5", "carol", "lost", "2025-11-15", 20, 10000.0, 1),
    ("p6", "nobody", "lost", "2025-11-15", 20, 10000.0, 1),
    ("p7", "bob", "lost", "2025-11-15", 20, 10000.0, 2),
    ("p8", "bob", "lost", "2025-11-15", 20, 10000.0, 2),
    ("p9", "alice", "lost", "2025-11-15", 20, 10000.0, 3),
    ("p10", "bob", "lost", "2025-11-15", 20, 10000.0, 3),
    ("c1", "alice", "won", "2026-01-20", 30, 120000.0, 3),
    ("c2", "bob", "won", "2026-02-10", 30, 30000.0, 3),
    ("c3", "alice", "won", "2026-03-05", 30, 15000.0, 3),
    ("c4", "carol", "lost", "2026-02-10", 20, 10000.0, 1),
    ("c5", "bob", "lost", "2026-02-10", 20, 10000.0, 1),
    ("c6", "bob", "lost", "2026-02-10", 20, 10000.0, 1),
    *[(f"c{i}", "bob", "lost", "2026-02-10", 20, 10000.0, 2) for i in range(7, 13)],
    ("c13", "alice", "lost", "2026-02-10", 20, 10000.0, 3),
    ("c14", "bob", "lost", "2026-02-10", 20, 10000.0, 3),
    ("c15", "bob", "lost", "2026-02-10", 20, 10000.0, 3),
    ("c16", "bob", "lost", "2026-02-10", 20, 10000.0, None),
    ("c17", "bob", "lost", "2026-02-10", 20, 10000.0, None),
    ("x1", "bob", "won", "2025-06-01", 100, 10000.0, 3),
]

# Open deals: id (None: CrmNames.deal_id, with its name and account), name, account, owner,
# current stage order, amount, created at, expected close date. 9 deals, 390,000: Alice 5 deals
# 200,000, Bob 3 deals 150,000, Carol 1 deal 40,000.
OPEN_DEALS = [
    (None, None, None, "alice", 2, 120000.0, "2026-01-19 12:00", "2026-03-01"),
    ("o2", "Beta expansion", "Beta", "bob", 3, 30000.0, "2026-02-25 12:00", "2026-03-10"),
    ("d2", "Gamma new", "Gamma", "carol", 3, 40000.0, "2026-01-01 00:00", "2026-02-01"),
    ("d3", "Delta new", "Delta", "bob", 1, 100000.0, "2026-03-11 12:00", "2026-06-30"),
    ("a2", None, None, "alice", 2, 20000.0, "2026-03-07 12:00", "2026-05-31"),
    ("a3", None, None, "alice", 3, 20000.0, "2026-02-01 00:00", "2026-04-30"),
    ("a4", None, None, "alice", 1, 20000.0, "2026-02-15 00:00", "2026-05-31"),
    ("a5", None, None, "alice", 1, 20000.0, "2026-03-01 00:00", "2026-06-30"),
    ("b3", None, None, "bob", 1, 20000.0, "2026-01-25 00:00", "2026-06-30"),
]

# Stints of the open deals: id, stage order, stint, entered, exited (None: still there at as_of).
# Completed stints: Prospecting OPP-1 4 days, o2 1, d2 2, a2 3, a3 5; Qualified o2 6 and d2 2 + 2
# (two stints); b3's first stint ends before it began (a data error, no duration). No Proposal
# stint is completed. At as_of OPP-1 has been 50 days in Qualified (since Jan 23, 12:00).
OPEN_DEAL_STINTS = [
    (None, 1, 1, "2026-01-19 12:00", "2026-01-23 12:00"),
    (None, 2, 1, "2026-01-23 12:00", None),
    ("o2", 1, 1, "2026-02-25 12:00", "2026-02-26 12:00"),
    ("o2", 2, 1, "2026-02-26 12:00", "2026-03-04 12:00"),
    ("o2", 3, 1, "2026-03-04 12:00", None),
    ("d2", 1, 1, "2026-01-01 00:00", "2026-01-03 00:00"),
    ("d2", 2, 1, "2026-01-03 00:00", "2026-01-05 00:00"),
    ("d2", 2, 2, "2026-02-10 00:00", "2026-02-12 00:00"),
    ("d2", 3, 1, "2026-02-12 00:00", None),
    ("d3", 1, 1, "2026-03-11 12:00", None),
    ("a2", 1, 1, "2026-03-07 12:00", "2026-03-10 12:00"),
    ("a2", 2, 1, "2026-03-10 12:00", None),
    ("a3", 1, 1, "2026-02-01 00:00", "2026-02-06 00:00"),
    ("a3", 3, 1, "2026-02-06 00:00", None),
    ("b3", 1, 1, "2026-02-01 00:00", "2026-01-29 00:00"),
    ("b3", 1, 2, "2026-03-12 12:00", None),
]

# Two exports showed OPP-1 and o2 before the current one: OPP-1 grew from 100,000 to 120,000 on
# Mar 1 and its expected close moved from Feb 15 to Mar 1; o2 fell from 40,000 to 30,000 on Mar 5.
# id, snapshot at, amount, expected close date, owner.
SNAPSHOTS = [
    (None, "2026-02-01 00:00", 100000.0, "2026-02-15", "alice"),
    (None, "2026-03-01 00:00", 120000.0, "2026-03-01", "alice"),
    ("o2", "2026-02-26 00:00", 40000.0, "2026-03-10", "bob"),
    ("o2", "2026-03-05 00:00", 30000.0, "2026-03-10", "bob"),
]


def make_warehouse(
    path: Path, names: CrmNames = CrmNames(), *, cycle_deals: int | None = None
) -> duckdb.DuckDBPyConnection:
    """The core tables as ingest fills them, every model of sql/ built over them at AS_OF, and the
    forecast engine's tables (written by hand, as the forecast would). `cycle_deals` adds that many
    closed deals spread over the window."""
    con = connect(path)
    n = {field: getattr(names, field) for field in CrmNames.__dataclass_fields__}
    add_stages(con, n)
    add_closed_deals(con, n)
    add_open_deals(con, n)
    if cycle_deals:
        add_many_closed_deals(con, n, cycle_deals)
    add_loaded_batch(con)
    build(con, lookback_days=365, currency="USD", as_of=AS_OF, fiscal_year_start_month=1)
    # The build stamps its own clock; the page shows it, so fix it for a reproducible page.
    con.execute("update build_params set built_at = timestamp '2026-03-14 13:00:00'")
    create_forecast_tables(con, n)
    return con


def rebuild_models_reading(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Re-run, in build order, every model that reads `table` directly or through other models:
    the marts derived from a table a test changed by hand then follow the change."""
    graph = model_graph()
    changed = {table}
    for model in graph.models:
        if model.name not in changed and graph.reads[model.name] & changed:
            create_models(con, [model])
            changed.add(model.name)


def stage_names(n: dict[str, str]) -> dict[int, str]:
    return {1: "Prospecting", 2: n["stage"], 3: "Proposal"}


def owner_and_source(n: dict[str, str], owner: str) -> tuple[str | None, str]:
    return OWNERS[owner] or (n["owner"], n["lead_source"])


def add_stages(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    con.execute(
        """
        insert into stages (pipeline, stage, stage_order, is_won, is_lost, default_probability)
        values
            ($pipeline, 'Prospecting', 1, false, false, 0.1),
            ($pipeline, $stage, 2, false, false, 0.3),
            ($pipeline, 'Proposal', 3, false, false, 0.6),
            ($pipeline, 'Won', null, true, false, 1.0),
            ($pipeline, 'Lost', null, false, true, 0.0)
        """,
        {"pipeline": n["pipeline"], "stage": n["stage"]},
    )


INSERT_DEAL = """
insert into deals (source, deal_id, name, account, owner, pipeline, lead_source, stage,
    stage_order, status, amount_base, created_at, closed_at, expected_close_date)
values ('crm', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::timestamp, ?::timestamp, ?::date)
"""
INSERT_STINT = """
insert into deal_stage_events (source, deal_id, pipeline, stage, stage_order, entered_at,
    exited_at, stint, origin)
values ('crm', ?, ?, ?, ?, ?::timestamp, ?::timestamp, ?, 'history')
"""


def add_closed_deals(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    """CLOSED_DEALS, each with one stint in the highest open stage it reached, at times the export
    did not give: it tells how far the deal got, and adds no duration or throughput."""
    stages = stage_names(n)
    for deal_id, owner, status, closed, cycle_days, amount, reached in CLOSED_DEALS:
        closed_at = datetime.fromisoformat(closed)
        created_at = closed_at - timedelta(days=cycle_days)
        owner_name, lead_source = owner_and_source(n, owner)
        con.execute(
            INSERT_DEAL,
            [deal_id, None, None, owner_name, n["pipeline"], lead_source, status.title(), None]
            + [status, amount, created_at, closed_at, None],
        )
        if reached is not None:
            con.execute(
                INSERT_STINT, [deal_id, n["pipeline"], stages[reached], reached, None, None, 1]
            )


def add_open_deals(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    stages = stage_names(n)
    for deal_id, name, account, owner, order, amount, created, expected in OPEN_DEALS:
        if deal_id is None:
            deal_id, name, account = n["deal_id"], n["deal"], n["account"]
        owner_name, lead_source = owner_and_source(n, owner)
        con.execute(
            INSERT_DEAL,
            [deal_id, name, account, owner_name]
            + [n["pipeline"], lead_source, stages[order], order, "open", amount, created, None]
            + [expected],
        )
    for deal_id, order, stint, entered, exited in OPEN_DEAL_STINTS:
        con.execute(
            INSERT_STINT,
            [deal_id or n["deal_id"], n["pipeline"], stages[order], order, entered, exited, stint],
        )
    for deal_id, taken, amount, expected, owner in SNAPSHOTS:
        con.execute(
            """
            insert into deal_snapshots (snapshot_at, source, deal_id, status, amount_base,
                expected_close_date, owner)
            values (?::timestamp, 'crm', ?, 'open', ?, ?::date, ?)
            """,
            [taken, deal_id or n["deal_id"], amount, expected, owner_and_source(n, owner)[0]],
        )


def add_many_closed_deals(con: duckdb.DuckDBPyConnection, n: dict[str, str], deals: int) -> None:
    """`deals` closed deals spread over the window with cycles of 0.5 to 119.5 days, among seven
    owners; no stage history (lost at an unknown stage)."""
    con.execute(
        """
        insert into deals (source, deal_id, owner, pipeline, lead_source, stage, status,
            amount_base, created_at, closed_at)
        select 'crm', 'm' || i, 'owner ' || (i % 7), $pipeline, 'web',
            case when i % 3 = 0 then 'Lost' else 'Won' end,
            case when i % 3 = 0 then 'lost' else 'won' end,
            1000.0, closed_at - to_days(((i * 7) % 120)::integer) - interval 12 hour, closed_at
        from (
            select i, timestamp '2026-03-14 00:00:00' - to_days((i % 300)::integer) as closed_at
            from range($deals) as r(i)
        )
        """,
        {"pipeline": n["pipeline"], "deals": deals},
    )


def add_loaded_batch(con: duckdb.DuckDBPyConnection) -> None:
    """The deals file's batch, as ingest records it: 120 rows read, 118 loaded, 2 rejected."""
    con.execute(
        """
        insert into ingest_batches (batch_id, source, adapter, object, file_path, file_sha256,
            rows_read, rows_loaded, rows_rejected, snapshot_at, started_at, finished_at, status)
        values (1, 'crm', 'generic', 'deals', 'deals.csv', 'abc', 120, 118, 2,
            timestamp '2026-03-14 12:00:00', timestamp '2026-03-14 12:30:00',
            timestamp '2026-03-14 12:31:00', 'loaded')
        """
    )


def hand_picked_cycles(folder: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse of closed deals only, built at AS_OF. In the window: won after 3, 10, 12, 40
    days; lost after 1, 5; one closed 2 days before it was created. Outside it: a won deal closed
    in 2024 after 500 days, which must not count."""
    con = new_warehouse(folder)
    for deal_id, status, cycle_days, closed in [
        ("1", "won", 3, "2026-03-01"),
        ("2", "won", 10, "2026-02-01"),
        ("3", "won", 12, "2025-12-01"),
        ("4", "won", 40, "2025-06-01"),
        ("5", "lost", 1, "2026-01-15"),
        ("6", "lost", 5, "2025-04-01"),
        ("7", "won", -2, "2026-02-20"),
        ("8", "won", 500, "2024-05-01"),
    ]:
        closed_at = datetime.fromisoformat(closed)
        created_at = closed_at - timedelta(days=cycle_days)
        add_deal(con, deal_id, created_at=created_at, status=status, closed_at=closed_at)
    build_as_of(con, AS_OF)
    return con


def create_forecast_tables(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    """Run 1: the first engine's open pipeline only. Run 2, the latest: every component with
    bands for March to May 2026, deals, cash flow; and a backtest."""
    con.execute(
        """
        insert into forecast_runs (run_id, as_of, created_at, horizon_months, simulations, seed,
            method, config) values
            (1, ?, timestamp '2026-03-14 13:05:00', 3, null, null, 'stage_weighted', '{}'),
            (2, ?, timestamp '2026-03-14 14:00:00', 3, 5000, 7, 'engine', '{}')
        """,
        [AS_OF, AS_OF],
    )
    con.execute(
        """
        insert into forecast_bookings (run_id, month, component, mean, p10, p50, p90)
        select run_id, month::date, component, mean, p10, p50, p90
        from (values
            (1, '2026-03-01', 'open_pipeline', 1.0, null, null, null),
            (2, '2026-03-01', 'closed', 15000.0, 15000.0, 15000.0, 15000.0),
            (2, '2026-04-01', 'closed', 0.0, 0.0, 0.0, 0.0),
            (2, '2026-05-01', 'closed', 0.0, 0.0, 0.0, 0.0),
            (2, '2026-03-01', 'open_pipeline', 40000.0, 20000.0, 38000.0, 65000.0),
            (2, '2026-04-01', 'open_pipeline', 80000.0, 45000.0, 78000.0, 120000.0),
            (2, '2026-05-01', 'open_pipeline', 60000.0, 25000.0, 57000.0, 101000.0),
            (2, '2026-03-01', 'new_pipeline', 0.0, 0.0, 0.0, 0.0),
            (2, '2026-04-01', 'new_pipeline', 10000.0, 2000.0, 9000.0, 20000.0),
            (2, '2026-05-01', 'new_pipeline', 20000.0, 5000.0, 18000.0, 40000.0),
            (2, '2026-03-01', 'total', 55000.0, 35000.0, 53000.0, 80000.0),
            (2, '2026-04-01', 'total', 90000.0, 50000.0, 88000.0, 135000.0),
            (2, '2026-05-01', 'total', 80000.0, 35000.0, 76000.0, 130000.0)
        ) as t(run_id, month, component, mean, p10, p50, p90)
        """
    )
    con.execute(
        """
        insert into forecast_deals (run_id, source, deal_id, win_probability,
            expected_close_month, expected_value_base, basis) values
            (2, 'crm', $deal_id, 0.25, date '2026-04-01', 30000.0, 'stage'),
            (2, 'crm', 'd2', 0.5, date '2026-04-01', 20000.0, 'stage'),
            (2, 'crm', 'd3', 0.1, date '2026-05-01', 10000.0, 'crm')
        """,
        {"deal_id": n["deal_id"]},
    )
    # Quarter totals of the simulation: Q1 2026 = 150,000 booked in January and February plus
    # March's simulated total (mean 55,000, P10 35,000, P50 53,000, P90 80,000).
    con.execute(
        """
        insert into forecast_periods (run_id, period, period_start, months_forecast, complete,
            component, mean, p10, p50, p90)
        select run_id, period, period_start::date, months, complete, component, mean, p10, p50,
            p90
        from (values
            (2, 'quarter', '2026-01-01', 1, true, 'total', 205000.0, 185000.0, 203000.0,
             230000.0),
            (2, 'quarter', '2026-01-01', 1, true, 'open_pipeline', 1.0, 1.0, 1.0, 1.0),
            (2, 'quarter', '2026-04-01', 2, false, 'total', 170000.0, 1.0, 1.0, 1.0),
            (2, 'month', '2026-01-01', 1, true, 'total', 1.0, 1.0, 1.0, 1.0),
            (1, 'quarter', '2026-01-01', 1, true, 'total', 1.0, 1.0, 1.0, 1.0)
        ) as t(run_id, period, period_start, months, complete, component, mean, p10, p50, p90)
        """
    )
    con.execute(
        """
        insert into forecast_changes (run_id, previous_run_id, source, deal_id, change, stage,
            previous_stage, win_probability, previous_win_probability, expected_value_base,
            previous_expected_value_base, delta_base)
        values
            (2, 1, 'crm', $deal_id, 'new', $stage, null, 0.25, null, 30000.0, null, 30000.0),
            (2, 1, 'crm', 'd2', 'updated', 'Proposal', 'Prospecting', 0.5, 0.2, 20000.0, 8000.0,
             12000.0),
            (2, 1, 'crm', 'o2', 'lost', null, 'Proposal', null, 0.4, null, 5000.0, -5000.0),
            (2, 1, 'crm', 'd3', 'updated', 'Prospecting', 'Prospecting', 0.1, 0.15, 10000.0,
             15000.0, -5000.0)
        """,
        {"deal_id": n["deal_id"], "stage": n["stage"]},
    )
    con.execute(
        """
        insert into forecast_crosschecks (run_id, month, method, mean, p10, p50, p90)
        select run_id, month::date, method, mean, p10, p50, p90
        from (values
            (2, '2026-03-01', 'crm_weighted', 60000.0, 40000.0, 60000.0, 80000.0),
            (2, '2026-04-01', 'crm_weighted', 100000.0, 70000.0, 100000.0, 130000.0),
            (2, '2026-05-01', 'crm_weighted', 70000.0, 50000.0, 70000.0, 90000.0),
            (2, '2026-03-01', 'run_rate', 50000.0, null, 50000.0, null),
            (2, '2026-04-01', 'run_rate', 50000.0, null, 50000.0, null),
            (2, '2026-05-01', 'run_rate', 50000.0, null, 50000.0, null)
        ) as t(run_id, month, method, mean, p10, p50, p90)
        """
    )
    con.execute(
        """
        insert into forecast_cashflow (run_id, month, billings_mean, billings_p10, billings_p50,
            billings_p90, collections_mean, collections_p10, collections_p50, collections_p90,
            recognized_revenue, recognized_revenue_p10, recognized_revenue_p90)
        select run_id, month::date as month, billings_mean, billings_p10, billings_p50,
            billings_p90, collections_mean, collections_p10, collections_p50, collections_p90,
            recognized_revenue, recognized_revenue * 0.5, recognized_revenue * 1.5
        from (values
            (2, '2026-03-01', 20000.0, 10000.0, 19000.0, 30000.0, 10000.0, 5000.0, 9000.0,
             15000.0, 8000.0),
            (2, '2026-04-01', 30000.0, 20000.0, 29000.0, 45000.0, 20000.0, 12000.0, 19000.0,
             30000.0, 12000.0),
            (2, '2026-05-01', 40000.0, 25000.0, 38000.0, 60000.0, 30000.0, 18000.0, 28000.0,
             45000.0, 16000.0),
            (2, '2026-06-01', 10000.0, 5000.0, 9000.0, 15000.0, 35000.0, 20000.0, 33000.0,
             50000.0, 20000.0),
            (1, '2026-04-01', 1.0, 1.0, 1.0, 1.0, 999999.0, 1.0, 1.0, 1.0, 1.0)
        ) as t(run_id, month, billings_mean, billings_p10, billings_p50, billings_p90,
               collections_mean, collections_p10, collections_p50, collections_p90,
               recognized_revenue)
        """
    )
    con.execute(
        """
        insert into forecast_backtest (origin, horizon_months, method, actual, forecast_mean, p10,
            p50, p90)
        select origin::timestamp as origin, horizon_months, method, actual, forecast_mean, p10, p50,
            p90
        from (values
            ('2025-10-31', 1, 'engine', 100.0, 90.0, 80.0, 90.0, 120.0),
            ('2025-11-30', 1, 'engine', 200.0, 210.0, 150.0, 210.0, 260.0),
            ('2025-10-31', 1, 'run_rate', 100.0, 130.0, null, 130.0, null),
            ('2025-11-30', 1, 'run_rate', 200.0, 150.0, null, 150.0, null)
        ) as t(origin, horizon_months, method, actual, forecast_mean, p10, p50, p90)
        """
    )


def section_html(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}" class="section">(.*?)</section>', page, re.S)
    assert match, f"section {key} missing"
    return match.group(1)


def script_bodies(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, re.S)


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment, tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def kpi_values(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="(\w+)" data-value="([^"]*)"', page))


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """make_warehouse's file, built once; each test that reads or changes it opens a copy."""
    path = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    make_warehouse(path).close()
    return path


def copy_of(built_warehouse: Path, folder: Path) -> duckdb.DuckDBPyConnection:
    shutil.copy(built_warehouse, folder / "w.duckdb")
    return connect(folder / "w.duckdb")


@pytest.fixture(scope="module")
def report(
    built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("report")
    con = copy_of(built_warehouse, folder)
    path = render_report(con, output_dir=folder / "reports", targets={(2026, 1): 250000.0})
    return path, path.read_text(encoding="utf-8"), con


# --- the file -------------------------------------------------------------------------------------


def test_dated_and_latest_reports_are_written_identically(report) -> None:
    path, _, _ = report
    assert path.name == "pipeline-report-2026-03-14.html"
    assert (path.parent / "latest.html").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "latest.html",
        "pipeline-report-2026-03-14.html",
    ]


def test_sections_appear_in_the_issue_order_with_nothing_missing(report) -> None:
    _, page, _ = report
    assert re.findall(r'<section id="([a-z]+)"', page) == SECTION_KEYS
    assert "Not available yet" not in page
    assert "<title>Pipeline report · Mar 14, 2026</title>" in page


def test_plotly_js_is_embedded_exactly_once(report) -> None:
    _, page, _ = report
    assert page.count(PLOTLY_JS) == 1
    assert page.count("plotly.js v") == 1  # the bundle's licence banner


def test_content_security_policy_allows_exactly_the_embedded_scripts(report) -> None:
    _, page, _ = report
    policy = html.unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    )
    allowed = set(re.findall(r"'sha256-([^']+)'", policy))
    bodies = script_bodies(page)
    embedded = {base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in bodies}
    charts = len(re.findall(r'<div class="chart" id="', page))
    assert len(bodies) == charts + 2  # plotly.js, one call per chart, the page script
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
    team = section_html(page, "team")
    assert '<table class="data sortable">' in team
    assert team.count("<button") == 10  # one per column
    assert "sortTable" in page


def test_report_size_does_not_grow_with_deals(tmp_path: Path) -> None:
    sizes = []
    for deals in (100, 10_000):
        con = make_warehouse(tmp_path / f"w{deals}.duckdb", cycle_deals=deals)
        sizes.append(render_report(con, output_dir=tmp_path / str(deals)).stat().st_size)
    assert abs(sizes[1] - sizes[0]) < 2_000


# --- 1. executive summary ------------------------------------------------------------------------


def test_win_rate_change_is_attributed_by_hand(report) -> None:
    _, _, con = report
    current, previous = summary_quarters(con)
    assert (current.start, previous.start) == (date(2026, 1, 1), date(2025, 10, 1))
    rows = {r["stage"]: r for r in stage_changes(con)}
    # Previous quarter, p1-p10: 4 won; lost 2 at Prospecting, 2 at Qualified, 2 at Proposal.
    #   Prospecting 8 / 10, Qualified 6 / 8, Proposal 4 / 6: product 0.4 = the win rate.
    # This quarter, c1-c15 (c16 and c17, lost at an unknown stage, are left out): 3 won; lost 3,
    #   6, 3. Prospecting 12 / 15, Qualified 6 / 12, Proposal 3 / 6: product 0.2.
    expected = {"Prospecting": (0.8, 0.8), "Qualified": (0.75, 0.5), "Proposal": (4 / 6, 0.5)}
    for stage, (before, now) in expected.items():
        assert rows[stage]["conversion_before"] == pytest.approx(before)
        assert rows[stage]["conversion_now"] == pytest.approx(now)
    assert math.prod(r["conversion_now"] for r in rows.values()) == pytest.approx(0.2)
    assert rows["Qualified"]["next_stage"] == "Proposal"
    assert rows["Proposal"]["next_stage"] is None
    # ln(0.5 / 0.75) = -0.405 beats ln(0.5 / 0.667) = -0.288; Prospecting did not move.
    assert rows["Qualified"]["win_rate_log_change"] == pytest.approx(math.log(0.5 / 0.75))
    assert win_rate_driver(list(rows.values()), -0.2)["stage"] == "Qualified"
    assert win_rate_driver(list(rows.values()), +0.2) is None  # no stage improved


def test_summary_reads_the_quarter_change_in_plain_words(report) -> None:
    _, page, _ = report
    summary = text_of(section_html(page, "summary"))
    # Win rate 3 / 17 = 17.6% (c16 and c17 count) against 4 / 10 = 40.0%: 22.4 points down.
    assert (
        "Win rate fell 22.4 points to 17.6%, driven by Qualified → Proposal "
        "(conversion 75.0% → 50.0%)." in summary
    )
    assert "▼ 22.4 points" in summary
    # 165,000 / 3 = 55,000 against 190,000 / 4 = 47,500: 55 / 47.5 - 1 = 15.8%.
    assert "Average won deal rose 16% to $55.0K, from $47.5K in the previous quarter." in summary
    # Mean cycle of the won deals: 30 days against 40.
    assert "Won deals closed 10.0 days faster than in the previous quarter." in summary
    # Velocity over the 365 days to each quarter's end: open deals x win rate x avg won / cycle.
    #   Q1 (to as_of): 9 open x 8 / 28 (won p1-p4, c1-c3, x1; lost 6 + 14) x 365,000 / 8
    #     = 45,625 / ((4 x 40 + 3 x 30 + 100) / 8 = 43.75 days) = 821,250 / 306.25 = 2,681.6.
    #   Q4 (to Dec 31): 1 open (c1, created Dec 21) x 5 / 11 (p1-p4, x1; p5-p10) x 200,000 / 5
    #     = 40,000 / ((4 x 40 + 100) / 5 = 52 days) = 349.65. 2,681.6 / 349.65 - 1 = 667%.
    assert (
        "Sales velocity per day rose 667% to $2.68K, from $350 in the previous quarter." in summary
    )
    assert "Q1 2026 to date (Jan 1, 2026 to Mar 14, 2026) against Q4 2025" in summary
    assert "Negotiation" not in summary and "Qualified → Proposal 75.0% 50.0% −25.0" in summary


def test_summary_numbers_are_the_warehouse_values(report) -> None:
    _, page, _ = report
    shown = kpi_values(section_html(page, "summary"))
    assert float(shown["quarter_win_rate"]) == pytest.approx(3 / 17)
    # The trailing window (mart_kpis): won p1-p4, c1-c3, x1; lost p5-p10, c4-c17.
    assert float(shown["win_rate"]) == pytest.approx(8 / 28)
    assert float(shown["quarter_avg_won_size"]) == 55000.0  # (120,000 + 30,000 + 15,000) / 3
    assert float(shown["quarter_mean_cycle_days_won"]) == 30.0
    assert float(shown["mean_cycle_days_won"]) == 43.75  # (4 x 40 + 3 x 30 + 100) / 8
    assert float(shown["sales_velocity_per_day"]) == pytest.approx(9 * (8 / 28) * 45625 / 43.75)
    # Alice 5 deals, 200,000; Bob 3, 150,000; Carol 1, 40,000.
    assert float(shown["open_pipeline_base"]) == 390000.0
    assert float(shown["open_deals"]) == 9


def test_quarter_forecast_and_cash_by_hand(report) -> None:
    _, page, _ = report
    summary = section_html(page, "summary")
    shown = kpi_values(summary)
    # forecast_periods of run 2: the quarter's P10 / P50 / P90 with January and February's facts.
    assert float(shown["quarter_bookings_p50"]) == 203000.0
    assert float(shown["quarter_bookings_p10"]) == 185000.0
    assert float(shown["quarter_bookings_p90"]) == 230000.0
    assert float(shown["quarter_target"]) == 250000.0
    text = text_of(summary)
    # Booked so far: January to March 14, c1 120,000 + c2 30,000 + c3 15,000.
    assert "$165K booked so far, $203K expected by the end of the quarter." in text
    assert "That is 81% of the target. The target is above P90: unlikely to be reached." in text
    # Q4 2025 booked p1 50,000 + p2 60,000 + p3 and p4 80,000 = 190,000: 203 / 190 - 1 = 6.8%.
    assert "▲ 7%" in text and "Q4 2025 closed at $190K." in text
    # as_of + 15 days is still March: March, April and May: 10,000 + 20,000 + 30,000.
    assert float(shown["cash_next_90_days"]) == 60000.0
    assert "Expected collections in the months Mar 2026 to May 2026." in text


def test_quarter_forecast_of_a_run_without_quarter_bands_adds_up_means(
    built_warehouse: Path, tmp_path: Path
) -> None:
    con = copy_of(built_warehouse, tmp_path)
    con.execute("delete from forecast_periods")
    page = render_report(con, output_dir=tmp_path).read_text(encoding="utf-8")
    shown = kpi_values(section_html(page, "summary"))
    # 150,000 of facts + run 2's March total, 55,000 (closed 15,000 + open pipeline 40,000).
    assert float(shown["quarter_bookings_mean"]) == 205000.0
    assert "quarter_bookings_p10" not in shown


# --- 2. forecast, 3. cash flow -----------------------------------------------------------------


def test_forecast_shows_the_latest_run_with_bands_components_and_deals(report) -> None:
    _, page, _ = report
    forecast = section_html(page, "forecast")
    text = text_of(forecast)
    assert "Forecast run 2 of Mar 14, 2026, method Engine." in text
    assert '"fill":"tonexty"' in forecast
    assert 'id="chart-forecast-components"' in forecast
    assert "Apr 2026 $90,000 $50,000 $88,000 $135,000" in text  # the total, with its bands
    assert "expected values only" not in text
    # Biggest deals: 30,000 of 60,000 expected = 50.0%, from the deals table.
    # The engine's 225,000 over three months against crm_weighted 230,000 and run_rate 150,000.
    assert "Engine $225,000 — CRM-weighted pipeline $230,000 +2.2% Run rate $150,000 −33.3%" in text
    assert (
        "2 from their stage's history at their age; 1 from the CRM's or the configured "
        "probability, timed by the usual sales cycle." in text
    )
    rows = re.findall(r"<tr>(.*?)</tr>", forecast.split("biggest deals behind it")[1], re.S)
    assert text_of(rows[1]).startswith("Acme renewal Acme Alice Qualified 120,000 25% Apr 2026")
    assert text_of(rows[1]).endswith("30,000 50.0%")


def test_forecast_says_what_changed_since_the_previous_run(report) -> None:
    _, page, _ = report
    text = text_of(section_html(page, "forecast").split("What changed since run 1")[1])
    # new: +30,000; updated: 12,000 - 5,000 = +7,000 over 2 deals; lost: -5,000.
    assert (
        "new open deal: 1 deals, +$30,000; changed: 2 deals, +$7,000; lost since: 1 deals, "
        "−$5,000." in text
    )
    # Largest moves first; the two of 5,000 by deal id (d3 before o2).
    assert re.findall(r"(Acme renewal|Gamma new|Delta new|Beta expansion)", text) == [
        "Acme renewal",
        "Gamma new",
        "Delta new",
        "Beta expansion",
    ]
    assert "Gamma new Gamma changed Prospecting → Proposal 8,000 20,000 +12,000" in text
    assert "Beta expansion Beta lost since Proposal 5,000 — −5,000" in text


def test_cash_flow_shows_the_latest_runs_months(report) -> None:
    _, page, _ = report
    cash = text_of(section_html(page, "cashflow"))
    assert (
        "Jun 2026 $10,000 $5,000 – $15,000 $35,000 $20,000 – $50,000 $20,000 $10,000 – $30,000"
        in cash
    )
    assert section_html(page, "cashflow").count('"fill":"tonexty"') == 3  # three bands
    assert "999,999" not in cash  # run 1's cash flow


# --- 4. funnel, 5. speed ----------------------------------------------------------------------


def test_sankey_flows_follow_the_stage_counts() -> None:
    stages = [
        {"reached": 20, "advanced": 14, "lost_here": 4, "open_here": 1},
        {"reached": 14, "advanced": 10, "lost_here": 3, "open_here": 1},
        {"reached": 10, "advanced": 7, "lost_here": 3, "open_here": 0},
    ]
    nodes, flows = sankey_flows(stages)
    assert nodes == ["stage", "stage", "stage", "won", "lost", "open", "unknown"]
    assert [(f.source, f.target, f.deals) for f in flows] == [
        (0, 1, 14),
        (0, 4, 4),
        (0, 5, 1),
        (1, 2, 10),
        (1, 4, 3),
        (1, 5, 1),
        (2, 3, 7),  # the last stage's advances are the won deals
        (2, 4, 3),
        (0, 6, 1),  # 20 - 14 - 4 - 1: lost at an unknown stage
    ]


def test_time_in_stage_quantiles_by_hand(report) -> None:
    _, _, con = report
    rows = {r["stage"]: r for r in fetch(con, STAGE_DAYS_SQL)}
    # Prospecting: o2 1, d2 2, a2 3, OPP-1 4, a3 5 days. Linear interpolation gives P10 1.4, P25 2,
    # median 3, P75 4, P90 4.6. b3's stint ending before it began and d3's open stint are out.
    p = rows["Prospecting"]
    assert (p["deals"], p["mean_days"]) == (5, pytest.approx(3.0))
    assert [p[k] for k in ("p10_days", "p25_days", "median_days", "p75_days", "p90_days")] == [
        pytest.approx(v) for v in (1.4, 2.0, 3.0, 4.0, 4.6)
    ]
    # Qualified: d2's two stints add up to 4, o2 has 6; OPP-1's and a2's stints are still open.
    q = rows["Qualified"]
    assert q["deals"] == 2
    assert [q[k] for k in ("p10_days", "p25_days", "median_days", "p75_days", "p90_days")] == [
        pytest.approx(v) for v in (4.2, 4.5, 5.0, 5.5, 5.8)
    ]


def test_speed_section_has_box_plots_throughput_histogram_and_trend(report) -> None:
    _, page, _ = report
    speed = section_html(page, "speed")
    for chart in ("chart-stage-days", "chart-cycle", "chart-velocity"):
        assert f'id="{chart}"' in speed
    assert '"q1":[2.0,4.5]' in speed and '"median":[3.0,5.0]' in speed
    # Qualified in the window: 5 stints began (OPP-1, o2, d2 twice, a2), 3 ended (o2 after 6 days,
    # d2's after 2 and 2: median 2.0), per week of 365 / 7: 35 / 365 = 0.1, 21 / 365 = 0.1, net
    # +14 / 365 = +0.0; open there: OPP-1 and a2; conversion 16 / 24 (see the bottlenecks).
    assert "Qualified 0.1 0.1 +0.0 2.0 2 66.7%" in text_of(speed)


def test_time_to_close_is_binned_in_the_window(tmp_path: Path) -> None:
    histogram = cycle_histogram(hand_picked_cycles(tmp_path))
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


# --- 6. bottlenecks, team, sources ---------------------------------------------------------------


def test_bottlenecks_rank_and_list_the_stuck_deals(report) -> None:
    _, page, _ = report
    text = text_of(section_html(page, "bottlenecks"))
    # Highest open stage of the 37 deals: won 8 (past every stage); lost 5 at Prospecting, 8 at
    # Qualified, 5 at Proposal, 2 unknown; open 4 in Prospecting, 2 in Qualified, 3 in Proposal.
    # Conversion = advanced / (advanced + lost here): Prospecting (8 + 8 + 5 + 2 + 3) / (26 + 5)
    # = 83.9%, Qualified (8 + 5 + 3) / (16 + 8) = 66.7%, Proposal 8 / (8 + 5) = 61.5%.
    # Days per deal moved on = median days / conversion: Qualified 5 / (2 / 3) = 7.5, Prospecting
    # 3 / (26 / 31) = 3.6; Proposal has no completed stint, so no median and ranks last.
    assert "1 Qualified 66.7% 5.0 7.5 2 1 120,000" in text
    assert "2 Prospecting 83.9% 3.0 3.6 4 0 0" in text
    assert "3 Proposal 61.5% — — 3 — —" in text
    # Only OPP-1 (50 days against Qualified's P90 of 4 + 0.9 x (6 - 4) = 5.8) is stuck; a2 (4 days)
    # is not, nor are d3 (3.0) and b3 (2.0) against Prospecting's 4.6.
    assert "Acme renewal Acme Alice Qualified 120,000 50.0 5.8" in text
    assert "Beta expansion" not in text


def test_rep_table_flags_load_and_sorts_on_raw_values(report) -> None:
    _, page, _ = report
    rows = re.findall(r"<tr>(.*?)</tr>", section_html(page, "team").split("<tbody>")[1], re.S)
    # Ordered by open pipeline: Alice 200,000, Bob 150,000, Carol 40,000, no owner 0 (p6, lost in
    # the window). Open deals 5, 3, 1: median 3, so load ratios 5 / 3 = 1.67 (over), 1.0 and
    # 1 / 3 = 0.33 (under).
    assert [re.search(r'data-sort="([^"]*)"', row).group(1) for row in rows] == [
        "Alice",
        "Bob",
        "Carol",
        "",
    ]
    assert 'data-sort="1.6666666666666667">1.67× <span class="flag flag-warn">' in rows[0]
    assert "over-allocated" in rows[0] and "allocated" not in rows[1]
    assert "under-allocated" in rows[2]
    assert "(no owner)" in rows[3] and "(none)" not in rows[3]
    # Carol has no won deal: blank sort key (sorts last) and a dash.
    assert '<td class="num" data-sort="">—</td>' in rows[2]


def test_lead_sources_table(report) -> None:
    _, page, _ = report
    text = text_of(section_html(page, "sources"))
    # Web is Alice's deals: open 5, 200,000; won p1, p3, c1, c3 = 225,000, lost p9 and c13: 4 / 6;
    # average 56,250; cycles 40, 40, 30, 30: median and mean 35.0; velocity
    # 5 x (4 / 6) x 56,250 / 35 = 5,357.1.
    assert "Web 5 200,000 4 2 225,000 66.7% 56,250 35.0 5,357" in text
    assert 'id="chart-sources"' in section_html(page, "sources")


# --- 7. pipeline flow ----------------------------------------------------------------------------


def test_pipeline_flow_chains_the_months_of_every_source(report) -> None:
    _, page, con = report
    bridge = fetch(con, FLOW_SQL)[0]
    # The 13 month ends in the window, Mar 2025 to Mar 14, 2026 (the snapshot basis left out).
    # Open at the end of Feb 2025: x1 only, 10,000; at as_of the 9 open deals, 390,000.
    assert bridge["months"] == 13
    assert bridge["open_start"] == 10000 and bridge["open_end"] == 390000
    # Created: every deal but x1, at its amount at the end of its month: the closed ones 355,000
    # won + 20 x 10,000 lost; the open ones 390,000 with OPP-1 at its first snapshot's 100,000
    # (not 120,000) and o2 at 40,000 (not 30,000): 555,000 + 380,000 = 935,000. In March OPP-1
    # rose 20,000 and o2 fell 10,000. Won: 190,000 + 165,000 + x1 10,000; lost 200,000.
    assert [bridge[k] for k in ("created", "amount_up", "amount_down", "won", "lost")] == [
        935000,
        20000,
        10000,
        365000,
        200000,
    ]
    assert 10000 + 935000 + 20000 - 10000 - 365000 - 200000 == 390000
    # OPP-1's expected close moved from Feb 15 to Mar 1 in March: pushed out at 120,000.
    assert (bridge["pushed_out"], bridge["pulled_in"]) == (120000, 0)
    text = text_of(section_html(page, "flow"))
    assert "Open at start $10,000 Created + $935,000" in text and "Open at end $390,000" in text


# --- 8. forecast accuracy --------------------------------------------------------------------


def test_backtest_scores_by_hand(report) -> None:
    _, page, con = report
    scores = {r["method"]: r for r in fetch(con, SCORES_SQL)}
    engine, run_rate = scores["engine"], scores["run_rate"]
    assert engine["wape"] == pytest.approx(20 / 300)  # |100 - 90| + |200 - 210|
    assert engine["bias"] == pytest.approx(0.0)  # -10 + 10
    assert engine["coverage"] == 1.0  # 100 in [80, 120], 200 in [150, 260]
    # Origin 1: (0.1*20 + 0.5*10 + 0.1*20) / 3 = 3; origin 2: (0.1*50 + 0.5*10 + 0.1*60) / 3.
    assert engine["pinball_loss"] == pytest.approx((3 + 16 / 3) / 2)
    assert run_rate["wape"] == pytest.approx(80 / 300)  # 30 + 50
    assert run_rate["bias"] == pytest.approx(-20 / 300)  # 30 - 50
    assert run_rate["coverage"] is None and run_rate["pinball_loss"] is None
    text = text_of(section_html(page, "accuracy"))
    assert "The engine has the lowest WAPE at 1 of 1 horizons." in text
    assert "1 Run rate 2 26.7% −6.7% — —" in text


# --- 9. data quality, 10. method -----------------------------------------------------------------


def test_data_quality_lists_checks_and_rejects(report) -> None:
    _, page, _ = report
    text = text_of(section_html(page, "quality"))
    assert "1 files loaded, the last on Mar 14, 2026: 118 of 120 rows used, 2 rejected" in text
    # Open deals due before as_of: OPP-1 (Mar 1), d2 (Feb 1), o2 (Mar 10); p6 has no owner; c16
    # and c17 were lost at an unknown stage. The other 10 checks find nothing.
    assert "3 of 13 checks found something." in text
    assert "warning 3 OPP-1, d2, o2" in text
    assert "warning 1 p6" in text
    assert "information 2 c16, c17" in text


def test_method_explains_the_latest_runs_method(report) -> None:
    _, page, _ = report
    text = text_of(section_html(page, "method"))
    assert "simulates 5,000 possible futures" in text
    assert "the 365 days up to Mar 14, 2026" in text


# --- missing data ------------------------------------------------------------------------------


def test_every_section_says_what_is_missing_on_an_empty_warehouse(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    con.execute(
        "insert into build_params (as_of, lookback_days, currency) values (?, 365, 'EUR')", [AS_OF]
    )
    page = render_report(con, output_dir=tmp_path).read_text(encoding="utf-8")
    assert re.findall(r'<section id="([a-z]+)"', page) == SECTION_KEYS
    for key in SECTION_KEYS[:-1]:  # Method always has something to say
        assert "Not available yet" in section_html(page, key), key
    assert "the warehouse has no mart_kpi_quarter_changes table" in section_html(page, "summary")
    assert 'class="chart"' not in page


def test_a_missing_column_or_table_leaves_the_others_intact(
    built_warehouse: Path, tmp_path: Path
) -> None:
    con = copy_of(built_warehouse, tmp_path)
    con.execute("drop table mart_rep_performance")
    con.execute("alter table mart_bottlenecks drop column days_per_advance")
    con.execute("drop table forecast_runs")
    page = render_report(con, output_dir=tmp_path).read_text(encoding="utf-8")
    assert "the warehouse has no mart_rep_performance table" in section_html(page, "team")
    assert "mart_bottlenecks has no column days_per_advance" in section_html(page, "bottlenecks")
    assert "no forecast run is stored" in section_html(page, "forecast")
    assert 'id="chart-forecast"' in page  # the history is still shown
    assert 'id="chart-funnel-1"' in page


# --- security ------------------------------------------------------------------------------------

PAYLOAD = '"><img src=x onerror=alert(1)></script><script>alert(2)</script>'


def test_crm_names_cannot_inject_markup_or_scripts(tmp_path: Path) -> None:
    names = CrmNames(
        stage=PAYLOAD,
        owner=PAYLOAD,
        pipeline=PAYLOAD,
        deal=PAYLOAD,
        account=PAYLOAD,
        lead_source=PAYLOAD,
        deal_id=PAYLOAD,
    )
    con = make_warehouse(tmp_path / "w.duckdb", names)
    page = render_report(con, output_dir=tmp_path).read_text(encoding="utf-8")
    ours = page.replace(PLOTLY_JS, "")
    assert PAYLOAD not in ours
    assert "<img" not in ours.lower()
    charts = len(re.findall(r'<div class="chart" id="', page))
    assert len(re.findall(r"<script\b", page, re.I)) == charts + 2
    assert len(re.findall(r"</script\s*>", page, re.I)) == charts + 2
    # As text in the tables (stage, owner, deal, account, source, sample id) ...
    escaped = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;&lt;script&gt;"
    assert page.count(escaped) >= 6
    # ... and inside the charts' JSON as HTML-escaped labels with &, < and > as \u escapes.
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page


# --- formats ---------------------------------------------------------------------------------


def test_english_formats() -> None:
    fmt = Formatter(currency="USD")
    assert fmt.money(1234567.4) == "$1,234,567"
    assert fmt.money(-1234.56, 2) == "-$1,234.56"
    assert fmt.money_compact(1234567) == "$1.23M"
    assert fmt.money_compact(999_999) == "$1.00M"  # rounds up into the next unit
    assert fmt.money_compact(12_345) == "$12.3K"
    assert fmt.money_compact(950) == "$950"
    assert Formatter(currency="CHF").money_compact(-2_500_000) == "-CHF 2.50M"
    assert fmt.percent(0.4123) == "41.2%"
    assert fmt.points(-0.04) == "4.0"
    assert fmt.days(12.34) == "12.3 days"
    assert fmt.ratio(1 / 3) == "0.33×"
    assert fmt.money(None) == fmt.percent(float("nan")) == "—"
    assert fmt.date(date(2024, 12, 31)) == "Dec 31, 2024"
    assert fmt.month(date(2026, 3, 1)) == "Mar 2026"
    assert fmt.quarter(2026, 4) == "Q4 2026" and fmt.fiscal_quarter(2027, 1) == "Q1 FY2027"


def test_italian_formats() -> None:
    fmt = Formatter(currency="EUR", locale=ITALIAN)
    assert fmt.money(1234.56, 2) == "1.234,56 €"
    assert fmt.money(1234567.4) == "1.234.567 €"
    assert fmt.money(-5) == "-5 €"
    assert fmt.money_compact(1_234_567) == "1,23 Mln €"
    assert fmt.money_compact(12_345) == "12.345 €"  # thousands are written in full
    assert fmt.money_compact(999_600) == "1,00 Mln €"
    assert Formatter(currency="USD", locale=ITALIAN).money(1000) == "1.000 USD"
    assert fmt.percent(0.4123) == "41,2%"
    assert fmt.days(12.34) == "12,3 giorni"
    assert fmt.date(date(2024, 12, 31)) == "31 dic 2024"
    assert fmt.month(date(2026, 3, 1)) == "mar 2026"
    assert fmt.quarter(2026, 4) == "T4 2026"
    assert ITALIAN.plotly_separators == ",." and ENGLISH.plotly_separators == ".,"


def test_report_context_is_what_sections_receive() -> None:
    ctx = ReportContext(AS_OF, 365, "USD", None, Formatter("USD"), translator("it"))
    assert ctx.t("Win rate") == "Tasso di successo"
    assert ctx.t("{deals} deals", deals="3") == "3 trattative"
    with pytest.raises(ValueError, match="not one of"):
        translator("fr")


def test_report_settings_in_the_config(tmp_path: Path) -> None:
    base = {
        "sources": [
            {
                "name": "crm",
                "adapter": "generic",
                "path": "d.csv",
                "status": {"won": ["Won"], "lost": ["Lost"]},
            }
        ],
        "pipeline": {"stages": ["A"], "currency": "EUR"},
    }
    config = parse_config(
        {**base, "report": {"language": "it", "targets": {"2026-Q4": 3_500_000}}},
        tmp_path / "p.toml",
    )
    assert config.report.language == "it"
    assert config.report.targets == {(2026, 4): 3_500_000.0}
    assert parse_config(base, tmp_path / "p.toml").report.language == "en"
    for report, key in (
        ({"language": "fr"}, "report.language"),
        ({"targets": {"2026-4": 1}}, "report.targets.2026-4"),
        ({"targets": {"2026-Q4": -1}}, "report.targets.2026-Q4"),
        ({"targets": {"2026-Q4": "lots"}}, "report.targets.2026-Q4"),
    ):
        with pytest.raises(ConfigError, match=f"key '{re.escape(key)}'"):
            parse_config({**base, "report": report}, tmp_path / "p.toml")
