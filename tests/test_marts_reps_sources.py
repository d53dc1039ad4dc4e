"""mart_rep_performance (gaps against the team) and mart_source_performance, worked by hand.

Eighteen deals, all created on day 1 and closed (or not) inside the trailing 365-day window:
  ann: won 100 (10 days, Inbound), 200 (20 days, Inbound), 300 (30 days, Referral);
       lost 50 (Outbound); open 500 (Inbound), 500 (Referral).
  bob: won 400 (40 days, Outbound); lost 7 x 10 (six Outbound, one Inbound); open 100 (Outbound).
  cy:  open 3 x 10 (Inbound).
Team: won 4 (1000; avg 250; cycles 10 20 30 40, median 25), lost 8 -> win rate 4 / 12 = 1/3.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from tests.mart_fixtures import add_deal, build_as_of, new_warehouse, rows

T0 = datetime(2024, 1, 1)
AS_OF = datetime(2024, 12, 31)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# (deal id, owner, lead source, status, amount, cycle days)
DEALS = [
    ("a-w1", "ann", "Inbound", "won", 100.0, 10),
    ("a-w2", "ann", "Inbound", "won", 200.0, 20),
    ("a-w3", "ann", "Referral", "won", 300.0, 30),
    ("a-l1", "ann", "Outbound", "lost", 50.0, 5),
    ("a-o1", "ann", "Inbound", "open", 500.0, None),
    ("a-o2", "ann", "Referral", "open", 500.0, None),
    ("b-w1", "bob", "Outbound", "won", 400.0, 40),
    *[(f"b-l{n}", "bob", "Outbound", "lost", 10.0, 5) for n in range(1, 7)],
    ("b-l7", "bob", "Inbound", "lost", 10.0, 5),
    ("b-o1", "bob", "Outbound", "open", 100.0, None),
    *[(f"c-o{n}", "cy", "Inbound", "open", 10.0, None) for n in range(1, 4)],
]


@pytest.fixture(scope="module")
def con(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    con = new_warehouse(tmp_path_factory.mktemp("reps"))
    for deal_id, owner, source, status, amount, cycle in DEALS:
        add_deal(
            con,
            deal_id,
            created_at=day(1),
            status=status,
            closed_at=day(1 + cycle) if cycle else None,
            amount_base=amount,
            owner=owner,
            lead_source=source,
        )
    build_as_of(con, AS_OF)
    return con


def keyed(con: duckdb.DuckDBPyConnection, table: str, key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows(con, f"select * from {table}")}


def test_rep_gaps_against_the_team(con):
    reps = keyed(con, "mart_rep_performance", "owner")
    ann, bob, cy = reps["ann"], reps["bob"], reps["cy"]
    assert ann["team_win_rate"] == pytest.approx(1 / 3)
    # ann 3 / 4 = 0.75: +0.4167 on the team. bob 1 / 8 = 0.125: -0.2083.
    assert (ann["win_rate"], ann["win_rate_vs_team"]) == pytest.approx((0.75, 0.75 - 1 / 3))
    assert (bob["win_rate"], bob["win_rate_vs_team"]) == pytest.approx((0.125, 0.125 - 1 / 3))
    # Two-proportion z against the rest of the team: ann vs bob (cy closed nothing):
    # (0.75 - 0.125) / sqrt(1/3 x 2/3 x (1/4 + 1/8)) = 0.625 / 0.288675 = 2.16506; bob: -2.16506.
    assert ann["win_rate_z"] == pytest.approx(2.16506, abs=1e-5)
    assert bob["win_rate_z"] == pytest.approx(-2.16506, abs=1e-5)
    assert (ann["win_rate_below_team"], bob["win_rate_below_team"]) == (False, True)
    assert (cy["win_rate"], cy["win_rate_z"], cy["win_rate_below_team"]) == (None, None, None)
    # won size against the team's 250: ann 200 -> 0.8, bob 400 -> 1.6;
    # median cycle against 25 days: ann 20 -> 0.8, bob 40 -> 1.6.
    assert (ann["avg_won_size_vs_team"], bob["avg_won_size_vs_team"]) == pytest.approx((0.8, 1.6))
    assert (ann["median_cycle_vs_team"], bob["median_cycle_vs_team"]) == pytest.approx((0.8, 1.6))
    # open pipeline 1000 / 100 / 30 of 1130; open deals 2 / 1 / 3, median 2.
    assert ann["open_pipeline_share"] == pytest.approx(1000 / 1130)
    assert [reps[o]["load_ratio"] for o in ("ann", "bob", "cy")] == [1.0, 0.5, 1.5]
    # 1.5 is not above 1.5, 0.5 not below 0.5: nobody is flagged.
    assert not any(r["over_allocated"] or r["under_allocated"] for r in reps.values())
    assert [reps[o]["created_deals"] for o in ("ann", "bob", "cy")] == [6, 9, 3]


def test_source_performance_by_hand(con):
    sources = keyed(con, "mart_source_performance", "lead_source")
    assert set(sources) == {"Inbound", "Outbound", "Referral"}
    inbound, outbound, referral = (sources[s] for s in ("Inbound", "Outbound", "Referral"))
    # Inbound: won 100, 200; lost 10; open 500 + 3 x 10. Created 7, won 2.
    assert (inbound["won_deals"], inbound["lost_deals"], inbound["open_deals"]) == (2, 1, 4)
    assert inbound["win_rate"] == pytest.approx(2 / 3)
    assert inbound["win_rate_amount"] == pytest.approx(300 / 310)
    assert (inbound["open_pipeline_base"], inbound["avg_won_size"]) == (530.0, 150.0)
    assert inbound["median_cycle_days_won"] == pytest.approx(15.0)
    assert (inbound["created_deals"], inbound["created_won_deals"]) == (7, 2)
    assert inbound["created_to_won_rate"] == pytest.approx(2 / 7)
    # Outbound: won 400 (40 days); lost 50 + 6 x 10; open 100. Created 9, won 1.
    assert (outbound["won_deals"], outbound["lost_deals"], outbound["win_rate"]) == (1, 7, 0.125)
    assert outbound["lost_amount_base"] == pytest.approx(110.0)
    assert outbound["created_to_won_rate"] == pytest.approx(1 / 9)
    # Referral: won 300 (30 days), open 500; created 2, won 1.
    assert (referral["win_rate"], referral["median_cycle_days_won"]) == (1.0, 30.0)
    assert referral["created_to_won_rate"] == 0.5
    # Shares of the 18 created deals and of the 1000 won.
    assert [sources[s]["share_of_created_deals"] for s in ("Inbound", "Outbound", "Referral")] == (
        pytest.approx([7 / 18, 9 / 18, 2 / 18])
    )
    assert [sources[s]["share_of_won_amount"] for s in ("Inbound", "Outbound", "Referral")] == (
        pytest.approx([0.3, 0.4, 0.3])
    )
