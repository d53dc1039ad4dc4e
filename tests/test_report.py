"""The HTML report, rendered from a warehouse whose marts and forecast tables are written here by
hand (not by the SQL models), so every number on the page can be checked against arithmetic.

Fixture dates: as_of is 2026-03-14 12:00 with a 365-day window; the current quarter is Q1 2026
(to date) and the previous one Q4 2025.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import plotly.offline
import pytest

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
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import connect

AS_OF = datetime(2026, 3, 14, 12, 0)
PLOTLY_JS = plotly.offline.get_plotlyjs()
SECTION_KEYS = [
    "summary",
    "forecast",
    "cashflow",
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

STAGE_DURATION_MODEL = Path(__file__).resolve().parents[1] / "sql" / "mart_stage_duration.sql"
# The marts the report reads that derive from the tables written here, built by their models.
DERIVED_MARTS = (
    "mart_kpi_quarter_changes",
    "mart_conversion_quarter_changes",
    "mart_time_to_close",
    "mart_time_to_close_bins",
    "mart_pipeline_flow_window",
    "mart_stuck_deals",
    "mart_files_loaded",
)


def create_derived_marts(
    con: duckdb.DuckDBPyConnection, names: tuple[str, ...] = DERIVED_MARTS
) -> None:
    for name in names:
        model = STAGE_DURATION_MODEL.with_name(f"{name}.sql").read_text()
        con.execute(f"create or replace table {name} as {model}")


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


def make_warehouse(
    path: Path, names: CrmNames = CrmNames(), *, cycle_deals: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Core tables from `connect`, then build_params and every table the report reads."""
    con = connect(path)
    con.execute("alter table build_params add column if not exists fiscal_year_start_month integer")
    con.execute(
        "insert into build_params (as_of, lookback_days, currency, built_at, "
        "fiscal_year_start_month) values (?, 365, 'USD', timestamp '2026-03-14 13:00:00', 1)",
        [AS_OF],
    )
    n = {field: getattr(names, field) for field in CrmNames.__dataclass_fields__}
    create_funnel_tables(con, n)
    create_kpi_tables(con, n)
    create_cycle_table(con, cycle_deals)
    create_speed_tables(con, n)
    create_team_tables(con, n)
    create_flow_table(con)
    create_forecast_tables(con, n)
    create_quality_tables(con, n)
    # The forecast section names deals from this mart: built by its model on the deals above.
    con.execute(f"create table mart_deal_details as {sql_statement('mart_deal_details')}")
    create_derived_marts(con)
    return con


def create_funnel_tables(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
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
    # Counts chain: 20 reached Prospecting = 14 advanced + 4 lost + 1 open + 1 lost at an unknown
    # stage; 14 reached the second stage = 10 + 3 + 1; 10 reached Proposal = 7 + 3 + 0.
    con.execute(
        """
        create table mart_stage_conversion as select * from (values
            ($pipeline, 'Prospecting', 1, 20, 14, 4, 1, 7, 14 / 18, 7 / 17),
            ($pipeline, $stage, 2, 14, 10, 3, 1, 7, 10 / 13, 7 / 13),
            ($pipeline, 'Proposal', 3, 10, 7, 3, 0, 7, 7 / 10, 7 / 10)
        ) as t(pipeline, stage, stage_order, reached, advanced, lost_here, open_here, won_deals,
               conversion_rate, win_rate_from_stage)
        """,
        {"pipeline": n["pipeline"], "stage": n["stage"]},
    )
    # Closed deals for the quarter comparison (see test_win_rate_change_is_attributed_by_hand).
    con.execute(
        """
        create table closed_fixture as select * from (values
            ('p1', 'won', '2025-11-15', 3, false), ('p2', 'won', '2025-11-15', 3, false),
            ('p3', 'won', '2025-11-15', 3, false), ('p4', 'won', '2025-11-15', 3, false),
            ('p5', 'lost', '2025-11-15', 1, false), ('p6', 'lost', '2025-11-15', 1, false),
            ('p7', 'lost', '2025-11-15', 2, false), ('p8', 'lost', '2025-11-15', 2, false),
            ('p9', 'lost', '2025-11-15', 3, false), ('p10', 'lost', '2025-11-15', 3, false),
            ('c1', 'won', '2026-02-10', 3, false), ('c2', 'won', '2026-02-10', 3, false),
            ('c3', 'lost', '2026-02-10', 1, false), ('c4', 'lost', '2026-02-10', 1, false),
            ('c5', 'lost', '2026-02-10', 2, false), ('c6', 'lost', '2026-02-10', 2, false),
            ('c7', 'lost', '2026-02-10', 2, false), ('c8', 'lost', '2026-02-10', 2, false),
            ('c9', 'lost', '2026-02-10', 3, false), ('c10', 'lost', '2026-02-10', 3, false),
            ('c11', 'lost', '2026-02-10', null, true),
            ('x1', 'won', '2025-06-01', 3, false),
            ('o1', 'open', null, 2, false)
        ) as t(deal_id, status, closed_at, max_open_stage_order, lost_stage_unknown)
        """
    )
    con.execute(
        """
        create table int_deals_as_of as
        select 'crm' as source, deal_id, $pipeline as pipeline, 'Alice' as owner,
            'Web' as lead_source, 1000.0 as amount_base,
            timestamp '2025-01-01 00:00:00' as created_at, true as exported_by_as_of, status,
            closed_at::timestamp as closed_at, null::varchar as stage,
            null::integer as stage_order, false as close_before_create,
            null::double as cycle_days
        from closed_fixture
        """,
        {"pipeline": n["pipeline"]},
    )
    con.execute(
        """
        create table int_deal_progress as
        select 'crm' as source, deal_id, $pipeline as pipeline, status,
            max_open_stage_order as stage_order, max_open_stage_order, 0 as regressions,
            lost_stage_unknown
        from closed_fixture
        """,
        {"pipeline": n["pipeline"]},
    )


def create_kpi_tables(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    # win_rate = 7 / 17; velocity = 12 open x 7/17 x 45,250.5 avg won / 42.25 mean days.
    con.execute(
        """
        create table mart_kpis as select
            timestamp '2026-03-14 12:00:00' as as_of, 365 as lookback_days,
            timestamp '2025-03-14 12:00:00' as window_start, 12 as open_deals,
            1234567.0 as open_pipeline_base, 7 as won_deals, 10 as lost_deals,
            7 / 17 as win_rate, 0.38 as win_rate_amount, 45250.5 as avg_won_size,
            40000.0 as median_won_size, 42.25 as mean_cycle_days_won,
            38.5 as median_cycle_days_won,
            12 * (7 / 17) * 45250.5 / 42.25 as sales_velocity_per_day
        """
    )
    con.execute(
        """
        create table mart_kpis_monthly as select
            month::date as month, won_deals, won_amount_base, velocity as sales_velocity_per_day
        from (values
            ('2025-10-01', 2, 50000.0, 900.0),
            ('2025-11-01', 3, 60000.0, 950.0),
            ('2025-12-01', 2, 80000.0, 995.0),
            ('2026-01-01', 3, 120000.0, 990.0),
            ('2026-02-01', 1, 30000.0, 1010.0),
            ('2026-03-01', 1, 15000.0, 1000.0)
        ) as t(month, won_deals, won_amount_base, velocity)
        """
    )
    con.execute(
        """
        create table mart_kpis_by_period as select
            period_kind, period_start::date as period_start, period_end::timestamp as period_end,
            is_partial, fiscal_year, fiscal_quarter, dimension, dimension_value,
            mean_cycle_days_won
        from (values
            ('quarter', '2026-01-01', '2026-03-14 12:00:00', true, 2026, 1, 'all', 'all', 30.0),
            ('quarter', '2025-10-01', '2025-12-31 23:59:59.999999', false, 2025, 4, 'all', 'all',
             40.0),
            ('quarter', '2025-07-01', '2025-09-30 23:59:59.999999', false, 2025, 3, 'all', 'all',
             99.0),
            ('month', '2026-03-01', '2026-03-14 12:00:00', true, 2026, 1, 'all', 'all', 99.0),
            ('quarter', '2026-01-01', '2026-03-14 12:00:00', true, 2026, 1, 'owner', 'Bob', 99.0)
        ) as t(period_kind, period_start, period_end, is_partial, fiscal_year, fiscal_quarter,
               dimension, dimension_value, mean_cycle_days_won)
        """
    )
    # This quarter's win rate counts c11, lost at an unknown stage: 2 / 11, against 4 / 10.
    con.execute(
        """
        create table mart_kpi_changes as select
            period_kind, period_start::date as period_start, dimension, dimension_value, kpi,
            value, prev_period_value, value - prev_period_value as change_vs_prev_period,
            value / prev_period_value - 1 as rel_change_vs_prev_period
        from (values
            ('quarter', '2026-01-01', 'all', 'all', 'win_rate', 2 / 11, 0.4),
            ('quarter', '2026-01-01', 'all', 'all', 'avg_won_size', 50000.0, 40000.0),
            ('quarter', '2026-01-01', 'all', 'all', 'median_cycle_days_won', 30.0, 40.0),
            ('quarter', '2026-01-01', 'all', 'all', 'sales_velocity_per_day', 1000.0, 995.0),
            ('quarter', '2026-01-01', 'owner', 'Bob', 'win_rate', 0.9, 0.1),
            ('month', '2026-03-01', 'all', 'all', 'win_rate', 0.9, 0.1)
        ) as t(period_kind, period_start, dimension, dimension_value, kpi, value,
               prev_period_value)
        """
    )


def create_cycle_table(con: duckdb.DuckDBPyConnection, deals: int | None) -> None:
    if deals is None:
        create_hand_picked_cycles(con)
    else:
        create_many_cycles(con, deals)


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


def create_speed_tables(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    # Completed days per deal: Prospecting 1, 2, 3, 4, 5; the second stage 2 + 2 = 4 (one deal,
    # two stints) and 6. A stint still open at as_of and one ending before it began don't count.
    con.execute(
        """
        insert into deal_stage_events (source, deal_id, pipeline, stage, stage_order, entered_at,
            exited_at, stint, origin)
        select 'crm', deal_id, $pipeline, stage, stage_order, entered::timestamp,
            entered::timestamp + to_days(days), stint, 'history'
        from (values
            ('e1', 'Prospecting', 1, '2026-01-01', 1, 1),
            ('e2', 'Prospecting', 1, '2026-01-01', 2, 1),
            ('e3', 'Prospecting', 1, '2026-01-01', 3, 1),
            ('e4', 'Prospecting', 1, '2026-01-01', 4, 1),
            ('e5', 'Prospecting', 1, '2026-01-01', 5, 1),
            ('e1', $stage, 2, '2026-01-10', 2, 1), ('e1', $stage, 2, '2026-02-10', 2, 2),
            ('e2', $stage, 2, '2026-01-10', 6, 1),
            ('e3', $stage, 2, '2026-03-10', 30, 1), ('e4', $stage, 2, '2026-01-10', -3, 1)
        ) as t(deal_id, stage, stage_order, entered, days, stint)
        """,
        {"pipeline": n["pipeline"], "stage": n["stage"]},
    )
    # The real model over these stints: the box plots read its quantiles.
    con.execute(f"create table mart_stage_duration as {STAGE_DURATION_MODEL.read_text()}")
    con.execute(
        """
        create table mart_stage_velocity as select * from (values
            ($pipeline, 'Prospecting', 1, 3.5, 3.0, 0.5, 2.0, 4, 14 / 18),
            ($pipeline, $stage, 2, 2.0, 2.5, -0.5, 5.0, 1, 10 / 13),
            ($pipeline, 'Proposal', 3, 1.0, 1.0, 0.0, 9.0, 0, 7 / 10)
        ) as t(pipeline, stage, stage_order, entries_per_week, exits_per_week, net_per_week,
               median_days, open_deals, conversion_rate)
        """,
        {"pipeline": n["pipeline"], "stage": n["stage"]},
    )


def create_team_tables(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    # Open deals 10 / 6 / 2: median 6, so load ratios 10/6 = 1.67 (over), 1.0, 2/6 = 0.33 (under).
    con.execute(
        """
        create table mart_rep_performance as select * from (values
            ($owner, 10, 500000.0, 10 / 6, true, false, 4, 2, 4 / 6, 50000.0, 30.5, 900.0),
            ('Bob', 6, 400000.0, 1.0, false, false, 2, 5, 2 / 7, 42000.0, 55.0, 200.0),
            ('Carol', 2, 90000.0, 2 / 6, false, true, 1, 3, 1 / 4, NULL, NULL, NULL),
            ('(none)', 1, 1000.0, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL)
        ) as t(owner, open_deals, open_pipeline_base, load_ratio, over_allocated, under_allocated,
               won_deals, lost_deals, win_rate, avg_won_size, median_cycle_days_won,
               sales_velocity_per_day)
        """,
        {"owner": n["owner"]},
    )
    con.execute(
        """
        create table mart_source_performance as select * from (values
            ($source, 5, 250000.0, 6, 4, 300000.0, 0.6, 50000.0, 35.0, 700.0),
            ('Events', 2, 80000.0, 1, 5, 40000.0, 1 / 6, 40000.0, 60.0, 50.0)
        ) as t(lead_source, open_deals, open_pipeline_base, won_deals, lost_deals,
               won_amount_base, win_rate, avg_won_size, median_cycle_days_won,
               sales_velocity_per_day)
        """,
        {"source": n["lead_source"]},
    )
    # Stuck: o1 has been 50 days in the second stage, whose P90 is 40; o2 10 of Proposal's 30.
    con.execute(
        """
        create table mart_bottlenecks as select * from (values
            ($pipeline, 'Proposal', 3, 0.7, 9.0, 30.0, 3, 0, 0.0, 9.0 / 0.7, 2),
            ($pipeline, $stage, 2, 10 / 13, 5.0, 40.0, 1, 1, 120000.0, 5.0 / (10 / 13), 1),
            ($pipeline, 'Prospecting', 1, 0.0, 2.0, 4.6, 4, 0, 0.0, 'inf'::double, 3)
        ) as t(pipeline, stage, stage_order, conversion_rate, median_days, p90_days, open_deals,
               stuck_deals, stuck_value_base, days_per_advance, rank)
        """,
        {"pipeline": n["pipeline"], "stage": n["stage"]},
    )
    con.execute(
        """
        create table int_open_deal_stage as select * from (values
            ('crm', $deal_id, $pipeline, $stage, 2, 50.0),
            ('crm', 'o2', $pipeline, 'Proposal', 3, 10.0)
        ) as t(source, deal_id, pipeline, stage, stage_order, days_in_stage)
        """,
        {"deal_id": n["deal_id"], "pipeline": n["pipeline"], "stage": n["stage"]},
    )
    con.execute(
        """
        insert into deals (source, deal_id, name, account, owner, pipeline, lead_source, stage,
            status, amount_base)
        values
            ('crm', $deal_id, $deal, $account, $owner, $pipeline, $source, $stage, 'open',
             120000.0),
            ('crm', 'o2', 'Beta expansion', 'Beta', 'Bob', $pipeline, 'Events', 'Proposal',
             'open', 30000.0),
            ('crm', 'd2', 'Gamma new', 'Gamma', 'Carol', $pipeline, 'Events', 'Proposal',
             'open', 40000.0),
            ('crm', 'd3', 'Delta new', 'Delta', 'Bob', $pipeline, 'Events', 'Prospecting',
             'open', 100000.0)
        """,
        {
            "deal_id": n["deal_id"],
            "deal": n["deal"],
            "account": n["account"],
            "owner": n["owner"],
            "pipeline": n["pipeline"],
            "source": n["lead_source"],
            "stage": n["stage"],
        },
    )


def create_flow_table(con: duckdb.DuckDBPyConnection) -> None:
    """Two sources, two months in the window; a snapshot-basis row and a month outside are
    ignored. Feb crm: 1000 + 300 + 50 - 20 - 100 - 80 = 1150; Mar crm: 1150 + 200 - 30 - 120 =
    1200; crm2: 500 + 100 - 50 - 50 = 500, then 500 + 10 - 10 = 500."""
    con.execute(
        """
        create table mart_pipeline_flow as
        select source, basis, period_start::timestamp as period_start,
            period_end::timestamp as period_end, open_start, created, amount_up, amount_down,
            won, lost, pushed_out, pulled_in, open_end
        from (values
            ('crm', 'month_end', '2026-01-31 23:59:59.999999', '2026-02-28 23:59:59.999999',
             1000, 300, 50, 20, 100, 80, 5, 7, 1150),
            ('crm', 'month_end', '2026-02-28 23:59:59.999999', '2026-03-14 12:00:00',
             1150, 200, 0, 30, 120, 0, 1, 0, 1200),
            ('crm2', 'month_end', '2026-01-31 23:59:59.999999', '2026-02-28 23:59:59.999999',
             500, 100, 0, 0, 50, 50, 0, 2, 500),
            ('crm2', 'month_end', '2026-02-28 23:59:59.999999', '2026-03-14 12:00:00',
             500, 0, 10, 0, 0, 10, 0, 0, 500),
            ('crm', 'snapshot', '2026-02-01 00:00:00', '2026-03-01 00:00:00',
             9, 9, 9, 9, 9, 9, 9, 9, 9),
            ('crm', 'month_end', '2024-12-31 23:59:59.999999', '2025-01-31 23:59:59.999999',
             7, 7, 7, 7, 7, 7, 7, 7, 7)
        ) as t(source, basis, period_start, period_end, open_start, created, amount_up,
               amount_down, won, lost, pushed_out, pulled_in, open_end)
        """
    )


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


def create_quality_tables(con: duckdb.DuckDBPyConnection, n: dict[str, str]) -> None:
    con.execute(
        """
        create table mart_data_quality as select * from (values
            ('close_before_create', 'error', 0, []::varchar[],
             'Deals closed before they were created.'),
            ('stale_expected_close', 'warning', 3, [$deal_id, 'o2', 'd2'],
             'Open deals whose expected close date has passed.')
        ) as t(check_name, severity, deals_affected, sample_ids, explanation)
        """,
        {"deal_id": n["deal_id"]},
    )
    con.execute(
        """
        insert into ingest_batches (batch_id, source, adapter, object, file_path, file_sha256,
            rows_read, rows_loaded, rows_rejected, snapshot_at, started_at, finished_at, status)
        values (1, 'crm', 'generic', 'deals', 'deals.csv', 'abc', 120, 118, 2,
            timestamp '2026-03-14 12:00:00', timestamp '2026-03-14 12:30:00',
            timestamp '2026-03-14 12:31:00', 'loaded')
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
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("report")
    con = make_warehouse(folder / "warehouse.duckdb")
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
    # This quarter, c1-c10 (c11, lost at an unknown stage, is left out): 2 won; lost 2, 4, 2.
    #   Prospecting 8 / 10, Qualified 4 / 8, Proposal 2 / 4: product 0.2.
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
    # mart_kpi_changes: 2/11 = 18.2% against 40.0%, 21.8 points down.
    assert (
        "Win rate fell 21.8 points to 18.2%, driven by Qualified → Proposal "
        "(conversion 75.0% → 50.0%)." in summary
    )
    assert "▼ 21.8 points" in summary
    assert "Average won deal rose 25% to $50.0K, from $40.0K in the previous quarter." in summary
    assert "Won deals closed 10.0 days faster than in the previous quarter." in summary
    # 1,000 / 995 - 1 = 0.5%: below 1%, steady.
    assert "Sales velocity per day held steady at $1.00K (previous quarter $995)." in summary
    assert "Q1 2026 to date (Jan 1, 2026 to Mar 14, 2026) against Q4 2025" in summary
    assert "Negotiation" not in summary and "Qualified → Proposal 75.0% 50.0% −25.0" in summary


def test_summary_numbers_are_the_warehouse_values(report) -> None:
    _, page, _ = report
    shown = kpi_values(section_html(page, "summary"))
    assert float(shown["quarter_win_rate"]) == 2 / 11
    assert float(shown["win_rate"]) == 7 / 17  # mart_kpis, the trailing window
    assert float(shown["quarter_avg_won_size"]) == 50000.0
    assert float(shown["quarter_mean_cycle_days_won"]) == 30.0
    # The trailing window's numbers are mart_kpis itself.
    assert float(shown["mean_cycle_days_won"]) == 42.25
    assert float(shown["sales_velocity_per_day"]) == 12 * (7 / 17) * 45250.5 / 42.25
    assert float(shown["open_pipeline_base"]) == 1234567.0
    assert float(shown["open_deals"]) == 12


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
    # Booked so far: January to March 14, 120,000 + 30,000 + 15,000.
    assert "$165K booked so far, $203K expected by the end of the quarter." in text
    assert "That is 81% of the target. The target is above P90: unlikely to be reached." in text
    # Q4 2025 booked 50,000 + 60,000 + 80,000 = 190,000: 203 / 190 - 1 = 6.8%.
    assert "▲ 7%" in text and "Q4 2025 closed at $190K." in text
    # as_of + 15 days is still March: March, April and May: 10,000 + 20,000 + 30,000.
    assert float(shown["cash_next_90_days"]) == 60000.0
    assert "Expected collections in the months Mar 2026 to May 2026." in text


def test_quarter_forecast_of_a_run_without_quarter_bands_adds_up_means(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
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
    # Prospecting 1..5 days: linear interpolation gives P10 1.4, P25 2, median 3, P75 4, P90 4.6.
    p = rows["Prospecting"]
    assert (p["deals"], p["mean_days"]) == (5, pytest.approx(3.0))
    assert [p[k] for k in ("p10_days", "p25_days", "median_days", "p75_days", "p90_days")] == [
        pytest.approx(v) for v in (1.4, 2.0, 3.0, 4.0, 4.6)
    ]
    # Qualified: e1's two stints add up to 4, e2 has 6; the open and the negative stints are out.
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
    assert "Qualified 2.0 2.5 −0.5 5.0 1 76.9%" in text_of(speed)


def test_time_to_close_is_binned_in_the_window() -> None:
    con = duckdb.connect()
    con.execute(
        "create table build_params as select ?::timestamp as as_of, 365 as lookback_days", [AS_OF]
    )
    create_hand_picked_cycles(con)
    create_derived_marts(con, ("mart_time_to_close", "mart_time_to_close_bins"))
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


# --- 6. bottlenecks, team, sources ---------------------------------------------------------------


def test_bottlenecks_rank_and_list_the_stuck_deals(report) -> None:
    _, page, _ = report
    text = text_of(section_html(page, "bottlenecks"))
    assert "1 Qualified 76.9% 5.0 6.5 1 1 120,000" in text  # 5 / (10 / 13) = 6.5 days
    assert "3 Prospecting 0.0% 2.0 no deal moved on 4 0 0" in text
    # Only o1 (50 days against a P90 of 40) is stuck; o2 (10 of 30) is not.
    assert "Acme renewal Acme Alice Qualified 120,000 50.0 40.0" in text
    assert "Beta expansion" not in text


def test_rep_table_flags_load_and_sorts_on_raw_values(report) -> None:
    _, page, _ = report
    rows = re.findall(r"<tr>(.*?)</tr>", section_html(page, "team").split("<tbody>")[1], re.S)
    # Ordered by open pipeline: Alice 500,000, Bob 400,000, Carol 90,000, no owner 1,000.
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
    assert "Web 5 250,000 6 4 300,000 60.0% 50,000 35.0 700" in text
    assert 'id="chart-sources"' in section_html(page, "sources")


# --- 7. pipeline flow ----------------------------------------------------------------------------


def test_pipeline_flow_chains_the_months_of_every_source(report) -> None:
    _, page, con = report
    bridge = fetch(con, FLOW_SQL)[0]
    # Start: February's 1000 + 500; end: March's 1200 + 500; movements summed over both.
    assert bridge["open_start"] == 1500 and bridge["open_end"] == 1700
    assert [bridge[k] for k in ("created", "amount_up", "amount_down", "won", "lost")] == [
        600,
        60,
        50,
        270,
        140,
    ]
    assert 1500 + 600 + 60 - 50 - 270 - 140 == 1700
    assert bridge["months"] == 2
    text = text_of(section_html(page, "flow"))
    assert "Open at start $1,500 Created + $600" in text and "Open at end $1,700" in text


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
    assert "1 of 2 checks found something." in text
    assert "Open deals whose expected close date has passed. warning 3 OPP-1, o2, d2" in text


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


def test_a_missing_column_or_table_leaves_the_others_intact(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
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
