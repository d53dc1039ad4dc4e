"""The SQL models against tiny warehouses whose expected numbers were worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from tests.mart_fixtures import (
    add_deal,
    add_stages,
    add_stint,
    build_as_of,
    new_warehouse,
    one_row,
    rows,
)

T0 = datetime(2024, 1, 1)
AS_OF = datetime(2024, 12, 31)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def funnel(con: duckdb.DuckDBPyConnection) -> dict[int, dict]:
    """mart_stage_conversion keyed by stage_order."""
    return {r["stage_order"]: r for r in rows(con, "select * from mart_stage_conversion")}


def kpis(con: duckdb.DuckDBPyConnection) -> dict:
    return one_row(con, "select * from mart_kpis")


# --- stage conversion: one test per counting rule --------------------------------------------


def test_skipped_stage_counts_as_passed(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 3)
    # "skip" went 1 -> 3 (never recorded in 2) and was lost; "won" went 1 -> 2 -> won.
    add_deal(con, "skip", created_at=day(0), status="lost", closed_at=day(5))
    add_stint(con, "skip", 1, day(0), day(1))
    add_stint(con, "skip", 3, day(1), day(5))
    add_deal(con, "won", created_at=day(0), status="won", closed_at=day(4))
    add_stint(con, "won", 1, day(0), day(2))
    add_stint(con, "won", 2, day(2), day(4))
    build_as_of(con, AS_OF)

    f = funnel(con)
    # stage 2: "skip" passed it (highest 3 >= 2) and went past it (3 > 2); "won" won.
    assert (f[2]["reached"], f[2]["advanced"], f[2]["lost_here"]) == (2, 2, 0)
    assert f[2]["conversion_rate"] == 1.0  # 2 / (2 + 0)
    # stage 3: "won" reached it by winning, "skip" was lost there: 1 / (1 + 1).
    assert (f[3]["reached"], f[3]["advanced"], f[3]["lost_here"]) == (2, 1, 1)
    assert f[3]["conversion_rate"] == 0.5


def test_regression_does_not_count_a_deal_twice(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # 1 -> 2 -> back to 1 -> 2 again -> lost: stage 2 was entered twice by one deal.
    add_deal(con, "back", created_at=day(0), status="lost", closed_at=day(9))
    add_stint(con, "back", 1, day(0), day(1))
    add_stint(con, "back", 2, day(1), day(3))
    add_stint(con, "back", 1, day(3), day(5), stint=2)
    add_stint(con, "back", 2, day(5), day(9), stint=2)
    build_as_of(con, AS_OF)

    f = funnel(con)
    assert (f[1]["reached"], f[1]["advanced"], f[1]["lost_here"]) == (1, 1, 0)
    assert (f[2]["reached"], f[2]["advanced"], f[2]["lost_here"]) == (1, 0, 1)
    progress = one_row(con, "select * from int_deal_progress")
    # stage orders 1, 2, 1, 2: one move down (2 -> 1).
    assert (progress["max_open_stage_order"], progress["regressions"]) == (2, 1)


def test_lost_deal_is_lost_at_its_highest_stage(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 3)
    add_deal(con, "lost2", created_at=day(0), status="lost", closed_at=day(3))
    add_stint(con, "lost2", 1, day(0), day(1))
    add_stint(con, "lost2", 2, day(1), day(3))
    add_deal(con, "lost1", created_at=day(0), status="lost", closed_at=day(2))
    add_stint(con, "lost1", 1, day(0), day(2))
    add_deal(con, "won", created_at=day(0), status="won", closed_at=day(6))
    for order in (1, 2, 3):
        add_stint(con, "won", order, day(order), day(order + 1))
    build_as_of(con, AS_OF)

    f = funnel(con)
    # stage 1: all 3 reached; advanced = lost2 (2 > 1) + won = 2; lost here = lost1.
    assert (f[1]["reached"], f[1]["advanced"], f[1]["lost_here"]) == (3, 2, 1)
    assert f[1]["conversion_rate"] == pytest.approx(2 / 3)
    assert f[1]["win_rate_from_stage"] == pytest.approx(1 / 3)  # 1 won of 3 resolved
    # stage 2: lost2 and won reached; won advanced, lost2 lost here: 1 / 2.
    assert (f[2]["reached"], f[2]["advanced"], f[2]["lost_here"]) == (2, 1, 1)
    assert f[2]["conversion_rate"] == 0.5
    assert f[2]["win_rate_from_stage"] == 0.5
    # stage 3: only won; 1 / (1 + 0).
    assert (f[3]["reached"], f[3]["lost_here"], f[3]["conversion_rate"]) == (1, 0, 1.0)


def test_lost_with_unknown_stage_counts_in_win_rate_not_conversion(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # "unknown": exported only as lost, no history and no open stage.
    add_deal(con, "unknown", created_at=day(0), status="lost", closed_at=day(3))
    add_deal(con, "lost1", created_at=day(0), status="lost", closed_at=day(3))
    add_stint(con, "lost1", 1, day(0), day(3))
    add_deal(con, "won", created_at=day(0), status="won", closed_at=day(3))
    add_stint(con, "won", 2, day(0), day(3))
    build_as_of(con, AS_OF)

    f = funnel(con)
    # stage 1 is reached by every deal: 3; win rate = 1 won / (1 + 2 lost) = 1/3 (all-time).
    assert (f[1]["reached"], f[1]["won_deals"], f[1]["lost_deals"]) == (3, 1, 2)
    assert f[1]["win_rate_from_stage"] == pytest.approx(1 / 3)
    # conversion leaves "unknown" out: advanced = won (1), lost here = lost1 (1): 1 / 2, not 1 / 3.
    assert (f[1]["advanced"], f[1]["lost_here"], f[1]["conversion_rate"]) == (1, 1, 0.5)
    # stage 2: only won reached it.
    assert (f[2]["reached"], f[2]["lost_deals"], f[2]["win_rate_from_stage"]) == (1, 0, 1.0)
    flagged = rows(con, "select deal_id from int_deal_progress where lost_stage_unknown")
    assert flagged == [{"deal_id": "unknown"}]


def test_open_deals_are_never_losses(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    # "open2" is open in stage 2 after stage 1; "open1" is open in stage 1 with no history.
    add_deal(con, "open2", created_at=day(0), stage_order=2)
    add_stint(con, "open2", 1, day(0), day(1))
    add_stint(con, "open2", 2, day(1), None)
    add_deal(con, "open1", created_at=day(0), stage_order=1)
    add_deal(con, "lost2", created_at=day(0), status="lost", closed_at=day(3))
    add_stint(con, "lost2", 2, day(0), day(3))
    build_as_of(con, AS_OF)

    f = funnel(con)
    # stage 1: open2 and lost2 went past it, open1 is still in it, nobody was lost there: 2 / 2.
    assert (f[1]["reached"], f[1]["advanced"], f[1]["lost_here"], f[1]["open_here"]) == (3, 2, 0, 1)
    assert f[1]["conversion_rate"] == 1.0
    # stage 2: open2 waits there, lost2 was lost there: 0 / (0 + 1), the open deal is no loss.
    assert (f[2]["reached"], f[2]["advanced"], f[2]["lost_here"], f[2]["open_here"]) == (2, 0, 1, 1)
    assert f[2]["conversion_rate"] == 0.0
    assert f[2]["win_rate_from_stage"] == 0.0  # 0 won / (0 + 1 lost)


def test_funnel_as_of_a_past_date_ignores_what_came_later(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 3)
    # exported on day 30 lost; by day 10 it had only entered stage 1 (stage 2 came on day 12).
    add_deal(con, "late", created_at=day(0), status="lost", closed_at=day(30), snapshot_at=day(30))
    add_stint(con, "late", 1, day(0), day(12))
    add_stint(con, "late", 2, day(12), day(30))
    # exported on day 30 open in stage 3, which it entered on day 20: unknown on day 10.
    add_deal(con, "open3", created_at=day(0), stage_order=3, snapshot_at=day(30))
    add_stint(con, "open3", 1, day(0), day(20))
    add_stint(con, "open3", 3, day(20), None)
    build_as_of(con, day(10))

    progress = rows(con, "select status, max_open_stage_order from int_deal_progress")
    assert progress == [{"status": "open", "max_open_stage_order": 1}] * 2
    f = funnel(con)
    assert (f[1]["open_here"], f[1]["lost_here"], f[2]["reached"]) == (2, 0, 0)


@pytest.mark.slow
def test_stage_events_of_another_pipeline_are_ignored(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 3)
    add_stages(con, 3, pipeline="renewals")
    # the deal moved to pipeline "default" after reaching stage 3 of "renewals".
    add_deal(con, "moved", created_at=day(0), stage_order=1)
    add_stint(con, "moved", 3, day(0), day(2), pipeline="renewals")
    add_stint(con, "moved", 1, day(2), None)
    build_as_of(con, AS_OF)

    assert one_row(con, "select max_open_stage_order from int_deal_progress") == {
        "max_open_stage_order": 1
    }


# --- durations and cycles ----------------------------------------------------------------------


@pytest.mark.slow
def test_stage_duration_sums_a_deals_stints_over_completed_stints(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    add_deal(con, "twice", created_at=day(0), stage_order=1)
    add_stint(con, "twice", 2, day(0), day(2))  # 2 days
    add_stint(con, "twice", 1, day(2), day(5))
    add_stint(con, "twice", 2, day(5), day(8), stint=2)  # + 3 days = 5
    add_stint(con, "twice", 1, day(8), None, stint=2)
    add_deal(con, "once", created_at=day(0), stage_order=2)
    add_stint(con, "once", 2, day(0), day(1.5))  # 1.5 days
    add_deal(con, "running", created_at=day(0), stage_order=2)
    add_stint(con, "running", 2, day(0), None)  # still in stage 2: not completed
    add_deal(con, "no_entry", created_at=day(0), stage_order=1)
    add_stint(con, "no_entry", 2, None, day(3))  # entry unknown: no duration
    add_deal(con, "later", created_at=day(0), stage_order=1)
    add_stint(con, "later", 2, day(0), AS_OF + timedelta(days=1))  # exits after as_of
    add_deal(con, "backwards", created_at=day(0), stage_order=1)
    add_stint(con, "backwards", 2, day(3), day(1))  # exit before entry: a data error
    build_as_of(con, AS_OF)

    d = one_row(con, "select * from mart_stage_duration where stage = 'stage 2'")
    # per deal: twice 5, once 1.5.  mean (5 + 1.5) / 2 = 3.25, median 3.25,
    # p75 = 1.5 + 0.75 * (5 - 1.5) = 4.125, p90 = 1.5 + 0.9 * 3.5 = 4.65.
    assert (d["stage_order"], d["deals"]) == (2, 2)
    assert d["mean_days"] == pytest.approx(3.25)
    assert d["median_days"] == pytest.approx(3.25)
    assert d["p75_days"] == pytest.approx(4.125)
    assert d["p90_days"] == pytest.approx(4.65)
    stage_1 = one_row(con, "select * from mart_stage_duration where stage = 'stage 1'")
    assert (stage_1["deals"], stage_1["mean_days"]) == (1, pytest.approx(3.0))  # twice: 2 -> 5


@pytest.mark.slow
def test_close_before_create_is_excluded_from_cycle_stats(tmp_path):
    con = new_warehouse(tmp_path)
    add_deal(
        con, "ok", created_at=day(60), status="won", closed_at=day(70.5), amount_base=100.0
    )  # 10.5 days
    add_deal(con, "backwards", created_at=day(130), status="won", closed_at=day(120))
    build_as_of(con, AS_OF)

    cycle = {r["deal_id"]: r for r in rows(con, "select * from mart_deal_cycle")}
    assert cycle["ok"]["cycle_days"] == pytest.approx(10.5)
    assert cycle["ok"]["close_month"].isoformat() == "2024-03-01"  # day 70.5 = 2024-03-11 12:00
    assert (cycle["backwards"]["cycle_days"], cycle["backwards"]["close_before_create"]) == (
        None,
        True,
    )
    k = kpis(con)
    # both wins count as wins; only "ok" has a cycle.
    assert k["won_deals"] == 2
    assert k["mean_cycle_days_won"] == pytest.approx(10.5)
    assert k["median_cycle_days_won"] == pytest.approx(10.5)


# --- KPIs --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kpi_window_excludes_its_start_and_includes_as_of(tmp_path):
    con = new_warehouse(tmp_path)
    as_of = datetime(2025, 7, 1)  # minus 365 days = 2024-07-01 (Feb 2025 has 28 days)
    created = datetime(2024, 1, 1)
    add_deal(con, "at_start", created_at=created, status="won", closed_at=datetime(2024, 7, 1))
    add_deal(
        con,
        "after_start",
        created_at=created,
        status="won",
        closed_at=datetime(2024, 7, 1, 0, 0, 1),
    )
    add_deal(con, "at_as_of", created_at=created, status="lost", closed_at=as_of)
    # closed a second after as_of: still open at as_of.
    add_deal(
        con,
        "after_as_of",
        created_at=created,
        status="lost",
        closed_at=datetime(2025, 7, 1, 0, 0, 1),
    )
    add_deal(con, "created_later", created_at=datetime(2025, 7, 2))  # unknown at as_of
    build_as_of(con, as_of)

    k = kpis(con)
    assert (k["as_of"], k["window_start"], k["lookback_days"]) == (
        as_of,
        datetime(2024, 7, 1),
        365,
    )
    # won: after_start only; lost: at_as_of only; open: after_as_of only.
    assert (k["won_deals"], k["lost_deals"], k["open_deals"]) == (1, 1, 1)
    assert k["win_rate"] == 0.5


def test_sales_velocity_formula(tmp_path):
    con = new_warehouse(tmp_path)
    add_deal(con, "open_a", created_at=day(0), amount_base=500.0)
    add_deal(con, "open_b", created_at=day(0))  # amount unknown: counts as an open deal
    for deal_id, amount, cycle in (("w1", 100.0, 10), ("w2", 200.0, 20), ("w3", 300.0, 30)):
        add_deal(
            con, deal_id, created_at=day(0), status="won", closed_at=day(cycle), amount_base=amount
        )
    add_deal(con, "l1", created_at=day(0), status="lost", closed_at=day(5), amount_base=400.0)
    build_as_of(con, AS_OF)

    k = kpis(con)
    assert (k["open_deals"], k["open_pipeline_base"]) == (2, 500.0)
    assert k["win_rate"] == 0.75  # 3 / (3 + 1)
    assert k["win_rate_amount"] == pytest.approx(0.6)  # 600 / (600 + 400)
    assert (k["avg_won_size"], k["median_won_size"]) == (200.0, 200.0)
    assert (k["mean_cycle_days_won"], k["median_cycle_days_won"]) == (20.0, 20.0)
    # 2 open x 0.75 x 200 / 20 days = 15 per day
    assert k["sales_velocity_per_day"] == pytest.approx(15.0)


def test_monthly_open_deals_end_and_trailing_velocity(tmp_path):
    con = new_warehouse(tmp_path)
    as_of = datetime(2024, 3, 15)
    add_deal(con, "a", created_at=datetime(2024, 1, 10), amount_base=100.0)
    add_deal(
        con,
        "b",
        created_at=datetime(2024, 1, 20),
        status="won",
        closed_at=datetime(2024, 2, 10),  # 21 days
        amount_base=200.0,
    )
    add_deal(
        con,
        "e",
        created_at=datetime(2024, 1, 31),
        status="won",
        closed_at=datetime(2024, 2, 1),  # 1 day; open at the end of January
        amount_base=10.0,
    )
    add_deal(
        con,
        "c",
        created_at=datetime(2024, 2, 5),
        status="lost",
        closed_at=datetime(2024, 3, 1),
        amount_base=50.0,
    )
    add_deal(con, "d", created_at=datetime(2024, 3, 10), amount_base=30.0)
    build_as_of(con, as_of)

    monthly = {r["month"].isoformat(): r for r in rows(con, "select * from mart_kpis_monthly")}
    assert list(monthly) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    jan, feb, mar = monthly.values()
    # January: a, b, e created (100 + 200 + 10) and all open at its end; nothing closed.
    assert (jan["created_deals"], jan["created_pipeline_base"]) == (3, 310.0)
    assert (jan["open_deals_end"], jan["open_pipeline_end"]) == (3, 310.0)
    assert (jan["won_deals"], jan["win_rate"], jan["sales_velocity_per_day"]) == (0, None, None)
    # February: c created; b and e won (210, mean size 105, median cycle (21 + 1) / 2 = 11);
    # open at its end: a and c (100 + 50).
    assert (feb["created_deals"], feb["won_deals"], feb["lost_deals"]) == (1, 2, 0)
    assert (feb["won_amount_base"], feb["avg_won_size"], feb["win_rate"]) == (210.0, 105.0, 1.0)
    assert feb["median_cycle_days_won"] == pytest.approx(11.0)
    assert (feb["open_deals_end"], feb["open_pipeline_end"]) == (2, 150.0)
    # March (to as_of): d created, c lost; open at as_of: a and d (100 + 30).
    assert (mar["created_deals"], mar["won_deals"], mar["lost_deals"]) == (1, 0, 1)
    assert (mar["win_rate"], mar["avg_won_size"]) == (0.0, None)
    assert (mar["open_deals_end"], mar["open_pipeline_end"]) == (2, 130.0)
    # trailing 365 days to March's end (as_of): won b, e; lost c; open 2:
    # 2 x (2 / 3) x 105 / 11 = 140 / 11; February's: 2 x 1.0 x 105 / 11 = 210 / 11.
    assert mar["sales_velocity_per_day"] == pytest.approx(140 / 11)
    assert feb["sales_velocity_per_day"] == pytest.approx(210 / 11)
    assert kpis(con)["sales_velocity_per_day"] == pytest.approx(140 / 11)


def test_rep_load_ratio_and_allocation_flags(tmp_path):
    con = new_warehouse(tmp_path)
    open_deals = {"ann": 4, "bob": 2, "cy": 1, None: 5}
    for owner, count in open_deals.items():
        for n in range(count):
            add_deal(con, f"{owner}-{n}", created_at=day(0), owner=owner)
    add_deal(con, "dee-won", created_at=day(0), owner="dee", status="won", closed_at=day(10))
    # closed before the window and nothing open: eve is not in the mart.
    add_deal(con, "eve-old", created_at=day(-500), owner="eve", status="lost", closed_at=day(-400))
    build_as_of(con, AS_OF)

    reps = {r["owner"]: r for r in rows(con, "select * from mart_rep_performance")}
    assert set(reps) == {"ann", "bob", "cy", "dee", "(none)"}
    # median open deals over reps with open deals: ann 4, bob 2, cy 1 -> 2 ('(none)' is no rep;
    # with its 5 the median would be 3).
    ratios = {
        owner: (r["load_ratio"], r["over_allocated"], r["under_allocated"])
        for owner, r in reps.items()
    }
    assert ratios == {
        "ann": (2.0, True, False),  # 4 / 2
        "bob": (1.0, False, False),
        "cy": (0.5, False, False),  # exactly 0.5 is not under 0.5
        "dee": (0.0, False, True),
        "(none)": (None, None, None),
    }
    assert (reps["dee"]["won_deals"], reps["dee"]["win_rate"]) == (1, 1.0)
    assert reps["(none)"]["open_deals"] == 5


def test_empty_denominators_are_null_not_zero(tmp_path):
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    add_deal(con, "open1", created_at=day(0), stage_order=1, amount_base=100.0)
    build_as_of(con, AS_OF)

    k = kpis(con)
    assert (k["open_deals"], k["won_deals"], k["lost_deals"]) == (1, 0, 0)
    for column in (
        "win_rate",
        "win_rate_amount",
        "avg_won_size",
        "median_won_size",
        "mean_cycle_days_won",
        "median_cycle_days_won",
        "sales_velocity_per_day",
    ):
        assert k[column] is None, column
    f = funnel(con)
    # stage 1: open1 is still there; stage 2: nobody reached it.
    assert (f[1]["reached"], f[1]["conversion_rate"], f[1]["win_rate_from_stage"]) == (
        1,
        None,
        None,
    )
    assert (f[2]["reached"], f[2]["conversion_rate"], f[2]["win_rate_from_stage"]) == (
        0,
        None,
        None,
    )


def test_win_rate_amount_is_null_without_known_amounts(tmp_path):
    con = new_warehouse(tmp_path)
    add_deal(con, "lost", created_at=day(0), status="lost", closed_at=day(5))
    build_as_of(con, AS_OF)

    k = kpis(con)
    # 0 won / (0 + 1 lost) = 0.0, but no closed deal has an amount: 0 / 0 -> NULL.
    assert (k["win_rate"], k["win_rate_amount"]) == (0.0, None)


def test_build_drops_tables_of_models_that_no_longer_exist(tmp_path):
    # A warehouse built by an older version holds int_deal_dimensions, a model since removed.
    con = new_warehouse(tmp_path)
    add_stages(con, 2)
    add_deal(con, "D1", stage_order=1, created_at=day(1))
    con.execute("create table int_deal_dimensions as select 'stale' as dimension")
    con.execute("create table notes as select 'an analyst table' as note")
    build_as_of(con, AS_OF)
    tables = {r["table_name"] for r in rows(con, "select table_name from duckdb_tables()")}
    assert "int_deal_dimensions" not in tables
    assert {"notes", "mart_kpis", "int_kpis_by_window"} <= tables
