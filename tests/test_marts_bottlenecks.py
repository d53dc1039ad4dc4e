"""mart_bottlenecks, mart_stage_velocity and int_open_deal_stage on one hand-built pipeline.

Three open stages; six closed deals give the conversion and the completed durations, seven deals
open at as_of (day 100) give the stuck deals. The window of the velocity mart is the trailing
70 days, (day 30, day 100]: 10 weeks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from tests.mart_fixtures import add_deal, add_stages, add_stint, build_as_of, new_warehouse, rows

T0 = datetime(2024, 1, 1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


AS_OF = day(100)

# closed deals: status and stints (stage order, entered day, exited day); the last exit is the close
CLOSED = {
    "w1": ("won", [(1, 0, 2), (2, 2, 12), (3, 12, 14)]),
    "w2": ("won", [(1, 10, 14), (2, 14, 34), (3, 34, 38)]),
    "l1": ("lost", [(1, 20, 23), (2, 23, 43)]),
    "l2": ("lost", [(1, 30, 31), (2, 31, 61)]),
    "l3": ("lost", [(1, 40, 45)]),
    "l4": ("lost", [(1, 0, 1), (2, 1, 5), (3, 5, 9)]),
}
# open deals: current stage order, amount, stints (exit None = still there)
OPEN = {
    "o1": (2, 100.0, [(1, 80, 82), (2, 82, None)]),
    "o2": (2, 200.0, [(1, 50, 51), (2, 51, None)]),
    "o3": (1, 300.0, [(1, 97, None)]),
    "o4": (1, 400.0, [(1, 60, None)]),
    # back in stage 2 after a short visit to stage 3: 5 earlier days + 23 now = 28 days there
    "o5": (2, 500.0, [(2, 70, 75), (3, 75, 77), (2, 77, None)]),
    # exported in stage 3 without history: entry unknown
    "o6": (3, 600.0, []),
}


@pytest.fixture(scope="module")
def con(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    con = new_warehouse(tmp_path_factory.mktemp("bottlenecks"))
    add_stages(con, 3)
    for deal_id, (status, stints) in CLOSED.items():
        add_deal(con, deal_id, created_at=day(stints[0][1]), status=status,
                 closed_at=day(stints[-1][2]))  # fmt: skip
        for order, entered, exited in stints:
            add_stint(con, deal_id, order, day(entered), day(exited))
    for deal_id, (order, amount, stints) in OPEN.items():
        add_deal(con, deal_id, created_at=day(0), stage_order=order, amount_base=amount)
        seen: dict[int, int] = {}
        for stage_order, entered, exited in stints:
            seen[stage_order] = seen.get(stage_order, 0) + 1
            add_stint(con, deal_id, stage_order, day(entered), exited and day(exited),
                      stint=seen[stage_order])  # fmt: skip
        if not stints:
            add_stint(con, deal_id, order, None, None)
    # o7 sat in stage 1 from day 90 and moved to stage 2 on day 105, after as_of; the export
    # showing stage 2 was taken on day 106, so at as_of it is a stage-1 deal 10 days in.
    add_deal(con, "o7", created_at=day(90), stage_order=2, amount_base=700.0,
             snapshot_at=day(106))  # fmt: skip
    add_stint(con, "o7", 1, day(90), day(105))
    add_stint(con, "o7", 2, day(105), None)
    build_as_of(con, AS_OF, lookback_days=70)
    return con


def by_stage(con: duckdb.DuckDBPyConnection, table: str) -> dict[int, dict]:
    return {r["stage_order"]: r for r in rows(con, f"select * from {table}")}


def test_open_deal_stage_and_days_in_it(con):
    opened = {r["deal_id"]: r for r in rows(con, "select * from int_open_deal_stage")}
    assert set(opened) == {"o1", "o2", "o3", "o4", "o5", "o6", "o7"}
    days = {deal_id: (r["stage_order"], r["days_in_stage"]) for deal_id, r in opened.items()}
    assert days == {
        "o1": (2, pytest.approx(18.0)),  # 100 - 82
        "o2": (2, pytest.approx(49.0)),
        "o3": (1, pytest.approx(3.0)),
        "o4": (1, pytest.approx(40.0)),
        "o5": (2, pytest.approx(28.0)),  # (75 - 70) + (100 - 77)
        "o6": (3, None),
        "o7": (1, pytest.approx(10.0)),  # stage 2 came after as_of
    }


def test_bottlenecks_by_hand(con):
    b = by_stage(con, "mart_bottlenecks")
    # Highest open stage: w1 w2 won; l1 l2 2; l3 1; l4 3; o1 o2 2; o3 o4 o7 1; o5 o6 3.
    # Stage 1: advanced = 2 won + l1 l2 l4 o1 o2 o5 o6 = 9, lost here l3: 9 / 10.
    # Stage 2: advanced = 2 won + l4 o5 o6 = 5, lost here l1 l2: 5 / 7.
    # Stage 3: advanced = 2 won, lost here l4: 2 / 3.
    assert [b[s]["conversion_rate"] for s in (1, 2, 3)] == pytest.approx([0.9, 5 / 7, 2 / 3])
    # Completed stints by as_of, summed per deal:
    # stage 1: w1 2, w2 4, l1 3, l2 1, l3 5, l4 1, o1 2, o2 1 -> sorted 1 1 1 2 2 3 4 5:
    #   median 2; p90 at position 7 x 0.9 = 6.3: 4 + 0.3 x (5 - 4) = 4.3.
    # stage 2: w1 10, w2 20, l1 20, l2 30, l4 4, o5 5 -> 4 5 10 20 20 30: median 15;
    #   p90 at 5 x 0.9 = 4.5: 20 + 0.5 x (30 - 20) = 25.
    # stage 3: w1 2, w2 4, l4 4, o5 2 -> 2 2 4 4: median 3; p90 at 2.7: 4.
    assert [b[s]["median_days"] for s in (1, 2, 3)] == pytest.approx([2.0, 15.0, 3.0])
    assert [b[s]["p90_days"] for s in (1, 2, 3)] == pytest.approx([4.3, 25.0, 4.0])
    # Open at as_of: stage 1 o3 (3 days), o4 (40), o7 (10): stuck o4, o7 (> 4.3) = 400 + 700.
    # Stage 2: o1 (18), o2 (49), o5 (28, with its earlier stint): stuck o2, o5 (> 25) = 700.
    # Stage 3: o6, entry unknown: not stuck.
    assert [(b[s]["open_deals"], b[s]["open_value_base"]) for s in (1, 2, 3)] == [
        (3, 1400.0),
        (3, 800.0),
        (1, 600.0),
    ]
    assert [(b[s]["stuck_deals"], b[s]["stuck_value_base"]) for s in (1, 2, 3)] == [
        (2, 1100.0),
        (2, 700.0),
        (0, 0.0),
    ]
    # days per advance = median / conversion: 2 / 0.9 = 2.22, 15 / (5/7) = 21, 3 / (2/3) = 4.5.
    assert [b[s]["days_per_advance"] for s in (1, 2, 3)] == pytest.approx([20 / 9, 21.0, 4.5])
    assert [b[s]["rank"] for s in (1, 2, 3)] == [3, 1, 2]


def test_stage_velocity_by_hand(con):
    v = by_stage(con, "mart_stage_velocity")
    # Window (day 30, day 100]; 70 days = 10 weeks.
    # Stage 1 entries: l3 40, o2 50, o4 60, o1 80, o7 90, o3 97 = 6 (l2 entered on day 30, the
    # excluded start). Exits: l2 31, l3 45, o2 51, o1 82 = 4 (o7 leaves on day 105).
    # Median of those stints: 1, 5, 1, 2 -> 1.5.
    # Stage 2 entries: l2 31, o2 51, o5 70 and 77 (re-entry), o1 82 = 5; exits: w2 34, l1 43,
    # o5 75, l2 61 = 4; stints 20, 20, 5, 30 -> median 20.
    # Stage 3 entries: w2 34, o5 75; exits: w2 38, o5 77; stints 4, 2 -> median 3.
    got = {
        s: (v[s]["entries"], v[s]["exits"], v[s]["median_days"], v[s]["open_deals"])
        for s in (1, 2, 3)
    }
    assert got == {
        1: (6, 4, pytest.approx(1.5), 3),
        2: (5, 4, pytest.approx(20.0), 3),
        3: (2, 2, pytest.approx(3.0), 1),
    }
    assert (v[1]["entries_per_week"], v[1]["exits_per_week"]) == pytest.approx((0.6, 0.4))
    assert [v[s]["net_per_week"] for s in (1, 2, 3)] == pytest.approx([0.2, 0.1, 0.0])
    assert v[2]["conversion_rate"] == pytest.approx(5 / 7)


@pytest.mark.slow
def test_a_stage_nobody_left_ranks_worst(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # stage 2: one deal took 4 days there and was lost; conversion 0 -> infinite days per advance.
    add_deal(con, "lost2", created_at=day(0), status="lost", closed_at=day(6))
    add_stint(con, "lost2", 1, day(0), day(2))
    add_stint(con, "lost2", 2, day(2), day(6))
    build_as_of(con, AS_OF)
    b = by_stage(con, "mart_bottlenecks")
    assert (b[2]["conversion_rate"], b[2]["days_per_advance"], b[2]["rank"]) == (
        0.0,
        float("inf"),
        1,
    )
    # stage 1: 2 days / 1.0; no open deals, so nothing is stuck (0, not NULL: p90 is known).
    assert (b[1]["days_per_advance"], b[1]["rank"], b[1]["stuck_deals"]) == (2.0, 2, 0)
