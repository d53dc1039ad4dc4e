"""mart_lead_conversion on tiny hand-built warehouses: each counting rule, values by hand."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from pipeline_analytics.build import build
from tests.mart_fixtures import SOURCE, add_deal, new_warehouse, rows

AS_OF = datetime(2024, 6, 1)


def add_lead(
    con: duckdb.DuckDBPyConnection,
    lead_id: str,
    created_at: datetime,
    *,
    converted_at: datetime | None = None,
    converted_deal_id: str | None = None,
    lead_source: str | None = None,
    owner: str | None = None,
) -> None:
    con.execute(
        """insert into leads (source, lead_id, owner, lead_source, created_at, converted_at,
            converted_deal_id, snapshot_at)
        values (?, ?, ?, ?, ?, ?, ?, ?)""",
        [SOURCE, lead_id, owner, lead_source, created_at, converted_at, converted_deal_id, AS_OF],
    )


def deal_from_lead(con: duckdb.DuckDBPyConnection, deal_id: str, lead_id: str) -> None:
    """The deals export names the lead the deal came from (a mapped lead_id column)."""
    con.execute("update deals set lead_id = ? where deal_id = ?", [lead_id, deal_id])


def conversion(
    con: duckdb.DuckDBPyConnection, lead_expiry_days: int = 90
) -> dict[tuple[str, str], dict]:
    build(con, lookback_days=365, currency="USD", as_of=AS_OF, lead_expiry_days=lead_expiry_days)
    return {
        (r["dimension"], r["dimension_value"]): r
        for r in rows(con, "select * from mart_lead_conversion")
    }


@pytest.fixture
def funnel(tmp_path) -> dict[tuple[str, str], dict]:
    con = new_warehouse(tmp_path)
    # L1: converted on its lead row to D1 (won) after 10 days.
    add_lead(
        con,
        "L1",
        datetime(2024, 1, 1),
        converted_at=datetime(2024, 1, 11),
        converted_deal_id="D1",
        lead_source="Web",
        owner="ann",
    )
    add_deal(
        con,
        "D1",
        created_at=datetime(2024, 1, 11),
        status="won",
        closed_at=datetime(2024, 3, 1),
        amount_base=1000.0,
    )
    # L2: the deal names the lead (deals.lead_id); no conversion date: the deal's creation, 20 days.
    add_lead(con, "L2", datetime(2024, 2, 1), lead_source="Web", owner="ann")
    add_deal(con, "D2", created_at=datetime(2024, 2, 21), stage_order=1)
    deal_from_lead(con, "D2", "L2")
    # L3: converted after 30 days to D3, which was lost.
    add_lead(
        con,
        "L3",
        datetime(2024, 3, 1),
        converted_at=datetime(2024, 3, 31),
        converted_deal_id="D3",
        lead_source="Phone",
        owner="bob",
    )
    add_deal(
        con, "D3", created_at=datetime(2024, 3, 31), status="lost", closed_at=datetime(2024, 4, 15)
    )
    # L4: never converted, 31 days old at as_of: open.
    add_lead(con, "L4", datetime(2024, 5, 1), lead_source="Phone", owner="bob")
    # L5: never converted, 138 days old: expired (lost); no source, no owner.
    add_lead(con, "L5", datetime(2024, 1, 15))
    # L6: created after as_of: left out.
    add_lead(con, "L6", datetime(2024, 7, 1), lead_source="Web", owner="ann")
    # L7: converted after as_of, so open at as_of (61 days old).
    add_lead(
        con,
        "L7",
        datetime(2024, 4, 1),
        converted_at=datetime(2024, 6, 15),
        converted_deal_id="D7",
        lead_source="Phone",
        owner="bob",
    )
    add_deal(con, "D7", created_at=datetime(2024, 6, 15), stage_order=1)
    # L8: its deal was created (and won) before the lead: converted and won, no days to convert.
    add_lead(
        con, "L8", datetime(2024, 3, 1), converted_deal_id="D8", lead_source="Web", owner="ann"
    )
    add_deal(
        con,
        "D8",
        created_at=datetime(2024, 2, 1),
        status="won",
        closed_at=datetime(2024, 2, 20),
        amount_base=500.0,
    )
    return conversion(con)


def test_overall_funnel_by_hand(funnel) -> None:
    everyone = funnel[("all", "all")]
    assert everyone["as_of"] == AS_OF
    assert everyone["lead_expiry_days"] == 90
    # L6 (created after as_of) is left out: L1-L5, L7, L8.
    assert everyone["leads_created"] == 7
    # Converted: L1 and L3 by date, L2 through the deal naming it, L8 through its deal.
    assert everyone["leads_converted"] == 4
    assert everyone["converted_deals_won"] == 2  # D1 and D8
    assert everyone["converted_won_amount_base"] == pytest.approx(1500.0)
    assert everyone["leads_open"] == 2  # L4 (31 days) and L7 (converted only after as_of)
    assert everyone["leads_expired"] == 1  # L5
    # L1 10 days, L2 20 (to its deal's creation), L3 30; L8's deal is older than the lead.
    assert everyone["median_days_to_convert"] == pytest.approx(20.0)
    assert everyone["lead_to_deal_rate"] == pytest.approx(4 / 7)
    assert everyone["lead_to_won_rate"] == pytest.approx(2 / 7)
    assert everyone["deal_to_won_rate"] == pytest.approx(2 / 4)


@pytest.mark.slow
def test_rates_by_source_owner_and_month(funnel) -> None:
    web, phone, none = (funnel[("lead_source", s)] for s in ("Web", "Phone", "(none)"))
    assert (web["leads_created"], web["leads_converted"], web["converted_deals_won"]) == (3, 3, 2)
    assert web["lead_to_deal_rate"] == pytest.approx(1.0)
    assert web["lead_to_won_rate"] == pytest.approx(2 / 3)
    assert web["median_days_to_convert"] == pytest.approx(15.0)  # L1 10, L2 20
    assert (phone["leads_created"], phone["leads_converted"], phone["leads_open"]) == (3, 1, 2)
    assert phone["converted_deals_won"] == 0
    assert phone["lead_to_won_rate"] == 0.0
    assert phone["deal_to_won_rate"] == 0.0  # D3 was lost
    assert (none["leads_created"], none["leads_expired"], none["lead_to_deal_rate"]) == (1, 1, 0)
    assert none["median_days_to_convert"] is None  # nothing converted
    assert funnel[("owner", "ann")]["leads_created"] == 3
    assert funnel[("owner", "(none)")]["leads_created"] == 1
    months = {v: r["leads_created"] for (d, v), r in funnel.items() if d == "created_month"}
    assert months == {"2024-01": 2, "2024-02": 1, "2024-03": 2, "2024-04": 1, "2024-05": 1}
    # Every cut adds up to the whole.
    for dimension in ("lead_source", "owner", "created_month"):
        assert sum(r["leads_created"] for (d, _), r in funnel.items() if d == dimension) == 7


@pytest.mark.slow
def test_expiry_counts_a_lead_lost_only_once_older_than_the_setting(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    add_lead(con, "young", datetime(2024, 5, 2))  # 30 days old at as_of
    add_lead(con, "old", datetime(2024, 5, 1))  # 31 days old
    everyone = conversion(con, lead_expiry_days=30)[("all", "all")]
    assert (everyone["leads_open"], everyone["leads_expired"]) == (1, 1)
    everyone = conversion(con, lead_expiry_days=31)[("all", "all")]
    assert (everyone["leads_open"], everyone["leads_expired"]) == (2, 0)


def test_the_deal_named_on_the_lead_wins_over_a_deal_naming_the_lead(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    add_lead(con, "L", datetime(2024, 1, 1), converted_deal_id="named")
    add_deal(con, "named", created_at=datetime(2024, 1, 5), stage_order=1)
    add_deal(
        con, "other", created_at=datetime(2024, 1, 3), status="won", closed_at=datetime(2024, 2, 1)
    )
    deal_from_lead(con, "other", "L")
    everyone = conversion(con)[("all", "all")]
    assert (everyone["leads_converted"], everyone["converted_deals_won"]) == (1, 0)
    assert everyone["median_days_to_convert"] == pytest.approx(4.0)


def test_a_deal_created_after_as_of_is_not_a_conversion_yet(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    add_lead(con, "L", datetime(2024, 5, 1))
    add_deal(con, "later", created_at=datetime(2024, 6, 10), stage_order=1)
    deal_from_lead(con, "later", "L")
    everyone = conversion(con)[("all", "all")]
    assert (everyone["leads_converted"], everyone["leads_open"]) == (0, 1)


def test_no_leads_no_rows(tmp_path) -> None:
    con = new_warehouse(tmp_path)
    add_deal(con, "D", created_at=datetime(2024, 1, 1), stage_order=1)
    assert conversion(con) == {}
