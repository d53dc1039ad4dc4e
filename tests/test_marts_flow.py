"""mart_pipeline_flow: a hand-computed bridge, and the bridge identity over random warehouses."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_analytics.build import build
from pipeline_analytics.sql_files import SQL_DIR
from pipeline_analytics.warehouse import create_schema
from tests.mart_fixtures import add_deal, add_snapshot, build_as_of, new_warehouse, rows

S1, S2, S3 = datetime(2024, 3, 1), datetime(2024, 4, 1), datetime(2024, 4, 30, 12)


def flows(con: duckdb.DuckDBPyConnection, basis: str) -> list[dict]:
    return rows(
        con, "select * from mart_pipeline_flow where basis = ? order by period_start", [basis]
    )


@pytest.fixture
def three_snapshots(tmp_path) -> duckdb.DuckDBPyConnection:
    """Ten deals seen by exports on S1, S2 and S3 (the current state); amounts in comments."""
    con = new_warehouse(tmp_path)

    def deal(deal_id, created, status="open", closed=None, amount=None, close_date=None):
        add_deal(
            con,
            deal_id,
            created_at=created,
            status=status,
            closed_at=closed,
            amount_base=amount,
            expected_close_date=close_date,
            snapshot_at=S3,
        )

    # A: open; 100 then 150, expected close pushed from Apr 15 to May 20.
    deal("A", datetime(2024, 1, 10), amount=150.0, close_date=date(2024, 5, 20))
    add_snapshot(con, "A", S1, amount_base=100.0, expected_close_date=date(2024, 4, 15))
    add_snapshot(con, "A", S2, amount_base=150.0, expected_close_date=date(2024, 5, 20))
    add_snapshot(con, "A", S3, amount_base=150.0, expected_close_date=date(2024, 5, 20))
    # B: 200 open on S1, won on Mar 20 at 250.
    deal("B", datetime(2024, 2, 1), "won", datetime(2024, 3, 20), 250.0)
    add_snapshot(con, "B", S1, amount_base=200.0, expected_close_date=date(2024, 3, 31))
    add_snapshot(con, "B", S2, status="won", amount_base=250.0)
    # C: 300 open, lost on Apr 10 at 280.
    deal("C", datetime(2024, 2, 15), "lost", datetime(2024, 4, 10), 280.0)
    add_snapshot(con, "C", S1, amount_base=300.0, expected_close_date=date(2024, 4, 30))
    add_snapshot(con, "C", S2, amount_base=300.0, expected_close_date=date(2024, 4, 30))
    add_snapshot(con, "C", S3, status="lost", amount_base=280.0)
    # D: created Mar 10 at 400, cut to 350 with its close pulled in from Jun 30 to May 31.
    deal("D", datetime(2024, 3, 10), amount=350.0, close_date=date(2024, 5, 31))
    add_snapshot(con, "D", S2, amount_base=400.0, expected_close_date=date(2024, 6, 30))
    add_snapshot(con, "D", S3, amount_base=350.0, expected_close_date=date(2024, 5, 31))
    # E: created Mar 15 and won Mar 25, at 50.
    deal("E", datetime(2024, 3, 15), "won", datetime(2024, 3, 25), 50.0)
    add_snapshot(con, "E", S2, status="won", amount_base=50.0)
    # F: open all along without an amount: an open deal worth 0 in the bridge.
    deal("F", datetime(2024, 1, 5))
    for snapshot in (S1, S2, S3):
        add_snapshot(con, "F", snapshot)
    # G: created Apr 20 at 75.
    deal("G", datetime(2024, 4, 20), amount=75.0)
    add_snapshot(con, "G", S3, amount_base=75.0)
    # H: 500 on S1, missing from the S2 export (still 500 then), 600 on S3. Its field history
    # records the close date moved from Jun 1 to Jul 15 on Mar 15: that beats the exports' dates.
    deal("H", datetime(2024, 1, 20), amount=600.0)
    add_snapshot(con, "H", S1, amount_base=500.0, expected_close_date=date(2024, 6, 1))
    add_snapshot(con, "H", S3, amount_base=600.0, expected_close_date=date(2024, 6, 1))
    con.execute(
        "insert into deal_changes values ('crm', 'H', 'close_date', '2024-06-01', '2024-07-15', "
        "timestamp '2024-03-15 10:00', null)"
    )
    # I: lost before S1: in no period.
    deal("I", datetime(2024, 2, 20), "lost", datetime(2024, 2, 25), 10.0)
    add_snapshot(con, "I", S1, status="lost", amount_base=10.0)
    # J: created Apr 25, never in a snapshot: its current amount, 20.
    deal("J", datetime(2024, 4, 25), amount=20.0)
    build_as_of(con, S3)
    return con


def test_bridge_between_snapshots_by_hand(three_snapshots):
    first, second = flows(three_snapshots, "snapshot")
    assert (first["period_start"], first["period_end"]) == (S1, S2)
    # S1 -> S2. Open at S1: A 100, B 200, C 300, F 0, H 500 = 1100 (5 deals).
    # Created: D 400, E 50. Up: A +50, B +50 (before its close). Won: B 250, E 50.
    # Open at S2: A 150, C 300, D 400, F 0, H 500 = 1350 (5 deals).
    # 1100 + 450 + 100 - 0 - 300 - 0 = 1350; deals 5 + 2 - 2 - 0 = 5.
    # Pushed out: A (Apr 15 -> May 20) at 150 and H (Jun 1 -> Jul 15, from its field history) at
    # 500; D was created in the period, so it is not pulled in.
    assert {k: first[k] for k in BRIDGE} == {
        "open_start": 1100,
        "created": 450,
        "amount_up": 100,
        "amount_down": 0,
        "won": 300,
        "lost": 0,
        "open_end": 1350,
    }
    assert [first[k] for k in DEAL_COUNTS] == [5, 2, 2, 0, 5]
    assert (first["pushed_out"], first["pushed_out_deals"], first["pulled_in"]) == (650, 2, 0)
    # S2 -> S3. Open at S2: 1350 (5). Created: G 75, J 20 (no snapshot: current amount).
    # Up: H 500 -> 600 (+100; S2 carried S1's 500). Down: C 300 -> 280 (-20), D 400 -> 350 (-50).
    # Lost: C 280. Open at S3: A 150, D 350, F 0, G 75, H 600, J 20 = 1195 (6 deals).
    # 1350 + 95 + 100 - 70 - 0 - 280 = 1195; deals 5 + 2 - 0 - 1 = 6.
    # Pulled in: D (Jun 30 -> May 31) at 350. H keeps Jul 15: field history wins over the S3
    # export's Jun 1, so nothing is pushed out.
    assert {k: second[k] for k in BRIDGE} == {
        "open_start": 1350,
        "created": 95,
        "amount_up": 100,
        "amount_down": 70,
        "won": 0,
        "lost": 280,
        "open_end": 1195,
    }
    assert [second[k] for k in DEAL_COUNTS] == [5, 2, 0, 1, 6]
    assert (second["pulled_in"], second["pulled_in_deals"], second["pushed_out"]) == (350, 1, 0)
    assert isinstance(second["open_end"], Decimal)


@pytest.mark.slow
def test_bridge_between_month_ends_by_hand(three_snapshots):
    months = flows(three_snapshots, "month_end")
    # From the month before the first created deal (Dec 2023) to as_of's month, cut at as_of.
    assert [m["period_end"] for m in months] == [
        datetime(2024, 1, 31, 23, 59, 59, 999999),
        datetime(2024, 2, 29, 23, 59, 59, 999999),
        datetime(2024, 3, 31, 23, 59, 59, 999999),
        S3,
    ]
    march = months[2]
    # Open at the end of February: A, B, C, F, H; amounts before their first snapshot are those
    # of the first snapshot: 100 + 200 + 300 + 0 + 500 = 1100. I was lost on Feb 25.
    # Created in March: D, E at their first snapshot amounts (S2: 400, 50).
    # Won: B at its end-of-March amount (S1's 200: the 250 was first exported on S2), E 50.
    # Open at March's end: A 100, C 300, D 400, F 0, H 500 = 1300.
    # 1100 + 450 + 0 - 0 - 250 - 0 = 1300; deals 5 + 2 - 2 - 0 = 5.
    assert {k: march[k] for k in BRIDGE} == {
        "open_start": 1100,
        "created": 450,
        "amount_up": 0,
        "amount_down": 0,
        "won": 250,
        "lost": 0,
        "open_end": 1300,
    }
    assert [march[k] for k in DEAL_COUNTS] == [5, 2, 2, 0, 5]
    monthly = one_month(three_snapshots, date(2024, 3, 1))
    # the month-end bridge counts what mart_kpis_monthly counts
    assert (monthly["created_deals"], monthly["won_deals"], monthly["open_deals_end"]) == (2, 2, 5)


def one_month(con: duckdb.DuckDBPyConnection, month: date) -> dict:
    (row,) = rows(con, "select * from mart_kpis_monthly where month = ?", [month])
    return row


BRIDGE = ("open_start", "created", "amount_up", "amount_down", "won", "lost", "open_end")
DEAL_COUNTS = ("open_start_deals", "created_deals", "won_deals", "lost_deals", "open_end_deals")

# --- the bridge identity over random warehouses --------------------------------------------------

ORIGIN = datetime(2024, 1, 1)
HORIZON_DAYS = 120
FLOW_MODELS = ("int_deals_as_of", "int_close_date_spans", "mart_pipeline_flow")


def at(days: float) -> datetime:
    return ORIGIN + timedelta(days=days)


amounts = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 3)))
close_dates = st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2024, 12, 31)))
deals = st.lists(
    st.fixed_dictionaries(
        {
            "created": st.one_of(st.none(), st.floats(0, HORIZON_DAYS)),
            "status": st.sampled_from(["open", "won", "lost"]),
            "close_after": st.one_of(st.none(), st.floats(0, 90)),
            "amount": amounts,
            "close_date": close_dates,
            # (snapshot index, amount, expected close) of the exports the deal appears in
            "seen": st.lists(st.tuples(st.integers(0, 3), amounts, close_dates), max_size=4),
            "close_date_changes": st.lists(
                st.tuples(st.floats(0, HORIZON_DAYS), close_dates, close_dates), max_size=2
            ),
        }
    ),
    max_size=8,
)


@pytest.fixture(scope="module")
def flow_warehouse(tmp_path_factory) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """An in-memory warehouse, and a models folder with only the models the flow mart needs, so
    each example builds in milliseconds."""
    folder = tmp_path_factory.mktemp("flow_sql")
    for name in FLOW_MODELS:
        shutil.copy(SQL_DIR / f"{name}.sql", folder)
    con = duckdb.connect()
    create_schema(con)
    yield con, folder
    con.close()


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    deals=deals,
    snapshot_days=st.lists(st.floats(1, HORIZON_DAYS), min_size=1, max_size=4, unique=True),
)
def test_bridge_identity_holds_exactly(flow_warehouse, deals, snapshot_days):
    snapshots = sorted(at(d) for d in snapshot_days)
    as_of = at(HORIZON_DAYS)
    result = built_flows(flow_warehouse, deals, snapshots, as_of)
    for row in result:
        assert (
            row["open_start"]
            + row["created"]
            + row["amount_up"]
            - row["amount_down"]
            - row["won"]
            - row["lost"]
            == row["open_end"]
        ), row
        assert (
            row["open_start_deals"] + row["created_deals"] - row["won_deals"] - row["lost_deals"]
            == row["open_end_deals"]
        ), row
        # independently: the deals open at each end, by the lifecycle rule
        assert row["open_start_deals"] == open_deals(deals, row["period_start"], as_of, snapshots)
        assert row["open_end_deals"] == open_deals(deals, row["period_end"], as_of, snapshots)
    for earlier, later in zip(result, result[1:], strict=False):
        if (earlier["basis"], earlier["period_end"]) == (later["basis"], later["period_start"]):
            assert earlier["open_end"] == later["open_start"]
    snapshot_pairs = [r for r in result if r["basis"] == "snapshot"]
    assert len(snapshot_pairs) == max(0, len(set(snapshots_with_deals(deals, snapshots))) - 1)


def built_flows(
    flow_warehouse: tuple[duckdb.DuckDBPyConnection, Path],
    deals: list[dict],
    snapshots: list[datetime],
    as_of: datetime,
) -> list[dict]:
    """mart_pipeline_flow of a warehouse holding `deals`, exported at `snapshots`."""
    con, flow_sql = flow_warehouse
    load(con, deals, snapshots)
    build(con, lookback_days=365, currency="USD", as_of=as_of, sql_dir=flow_sql)
    return rows(con, "select * from mart_pipeline_flow order by source, basis, period_start")


def load(con: duckdb.DuckDBPyConnection, deals: list[dict], snapshots: list[datetime]) -> None:
    """Replace the warehouse's deals, snapshots and close-date changes with these."""
    for table in ("deals", "deal_snapshots", "deal_changes"):
        con.execute(f"delete from {table}")
    deal_rows, snapshot_rows, change_rows = [], [], []
    for n, d in enumerate(deals):
        created, closed = lifetime(d)
        deal_rows.append(
            [str(n), d["status"], d["amount"], created, closed, d["close_date"], snapshots[-1]]
        )
        snapshot_rows += [
            [snapshots[index], str(n), amount, close_date]
            for index, amount, close_date in d["seen"]
            if index < len(snapshots)
        ]
        change_rows += [
            [str(n), str(old) if old else None, str(new) if new else None, at(day)]
            for day, old, new in d["close_date_changes"]
        ]
    insert(
        con,
        "insert into deals (source, deal_id, pipeline, status, amount_base, created_at, "
        "closed_at, expected_close_date, snapshot_at) values ('crm', ?, 'default', ?, ?, ?, ?, "
        "?, ?)",
        deal_rows,
    )
    insert(
        con,
        "insert into deal_snapshots (snapshot_at, source, deal_id, amount_base, "
        "expected_close_date) values (?, 'crm', ?, ?, ?)",
        snapshot_rows,
    )
    insert(
        con, "insert into deal_changes values ('crm', ?, 'close_date', ?, ?, ?, null)", change_rows
    )


def lifetime(d: dict) -> tuple[datetime | None, datetime | None]:
    """The deal's created_at and closed_at."""
    created = None if d["created"] is None else at(d["created"])
    closed = None
    if d["status"] != "open" and d["close_after"] is not None:
        closed = (created or ORIGIN) + timedelta(days=d["close_after"])
    return created, closed


def insert(con: duckdb.DuckDBPyConnection, sql: str, values: list[list]) -> None:
    if values:
        con.executemany(sql, values)


def known_since(d: dict, snapshots: list[datetime]) -> datetime:
    """created_at; without it, the first export that showed the deal (else the current one's)."""
    if d["created"] is not None:
        return at(d["created"])
    seen = [snapshots[i] for i, _, _ in d["seen"] if i < len(snapshots)]
    return min(seen, default=snapshots[-1])


def open_deals(deals: list[dict], t: datetime, as_of: datetime, snapshots: list[datetime]) -> int:
    """Deals open at t: known by t and not closed by t, as known at as_of."""
    count = 0
    for d in deals:
        created = None if d["created"] is None else at(d["created"])
        if known_since(d, snapshots) > as_of:
            continue  # unknown at as_of
        if known_since(d, snapshots) > t:
            continue
        if d["status"] == "open":
            count += 1
            continue
        closed = None
        if d["close_after"] is not None:
            closed = (created or ORIGIN) + timedelta(days=d["close_after"])
        if closed is not None and closed > as_of:
            count += 1  # closed after as_of: open then
        elif closed is not None and closed > t:
            count += 1
    return count


def snapshots_with_deals(deals: list[dict], snapshots: list[datetime]) -> list[datetime]:
    return [snapshots[i] for d in deals for i, _, _ in d["seen"] if i < len(snapshots)]


# --- every column against a deal-by-period reference ----------------------------------------------

cents = st.one_of(st.none(), st.integers(0, 10**8).map(lambda c: c / 100))
exact_deals = st.lists(
    st.fixed_dictionaries(
        {
            "created": st.one_of(st.none(), st.floats(0, HORIZON_DAYS)),
            "status": st.sampled_from(["open", "won", "lost"]),
            # a negative delay: closed before created
            "close_after": st.one_of(st.none(), st.floats(-10, 90)),
            "amount": cents,
            "close_date": close_dates,
            # at most one row per export and per change time: ties have no defined order
            "seen": st.lists(
                st.tuples(st.integers(0, 3), cents, close_dates),
                max_size=4,
                unique_by=lambda seen: seen[0],
            ),
            "close_date_changes": st.lists(
                st.tuples(st.floats(0, HORIZON_DAYS), close_dates, close_dates),
                max_size=3,
                unique_by=lambda change: at(change[0]),
            ),
        }
    ),
    max_size=8,
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    deals=exact_deals,
    snapshot_days=st.lists(st.floats(1, HORIZON_DAYS), min_size=1, max_size=4, unique_by=at),
    as_of_day=st.floats(1, HORIZON_DAYS),
)
def test_flow_equals_deal_by_period_reference(flow_warehouse, deals, snapshot_days, as_of_day):
    """The model values each deal only where needed; this values every deal in every period, by
    the definitions in the model's header, and must find the same rows."""
    snapshots = sorted(at(d) for d in snapshot_days)
    as_of = at(as_of_day)
    result = built_flows(flow_warehouse, deals, snapshots, as_of)
    assert result == reference_flows(deals, snapshots, as_of)


def reference_flows(deals: list[dict], snapshots: list[datetime], as_of: datetime) -> list[dict]:
    known = []
    for d in deals:
        _, closed = lifetime(d)
        known_from = known_since(d, snapshots)
        if known_from > as_of:
            continue
        status = d["status"] if closed is None or closed <= as_of else "open"
        # known from created_at (else first seen); open until closed (never open: closed at no time)
        open_until = datetime.max if status == "open" else closed
        known.append((d, known_from, open_until, status))
    exported = sorted({snapshots[i] for d in deals for i, _, _ in d["seen"] if i < len(snapshots)})
    checkpoints = {"snapshot": [t for t in exported if t <= as_of]}
    known_times = [known_from for _, known_from, _, _ in known]
    checkpoints["month_end"] = month_ends(min(known_times), as_of) if known_times else []
    result = []
    for basis in sorted(checkpoints):
        for start, end in zip(checkpoints[basis], checkpoints[basis][1:], strict=False):
            flow = dict.fromkeys(FLOW_COLUMNS, 0)
            for d, known_from, open_until, status in known:
                if open_until is None or known_from > end or open_until <= start:
                    continue
                at_start, at_end = known_from <= start, open_until > end
                (amount_start, date_start), (amount_end, date_end) = (
                    value_at(d, snapshots, as_of, start),
                    value_at(d, snapshots, as_of, end),
                )
                if at_start:
                    add(flow, "open_start", amount_start)
                    if amount_end > amount_start:
                        flow["amount_up"] += amount_end - amount_start
                    if amount_end < amount_start:
                        flow["amount_down"] += amount_start - amount_end
                else:
                    add(flow, "created", amount_end)
                if at_end:
                    add(flow, "open_end", amount_end)
                elif status in ("won", "lost"):
                    add(flow, status, amount_end)
                if at_start and at_end and None not in (date_start, date_end):
                    if date_end > date_start:
                        add(flow, "pushed_out", amount_end)
                    if date_end < date_start:
                        add(flow, "pulled_in", amount_end)
            result.append(
                {"source": "crm", "basis": basis, "period_start": start, "period_end": end, **flow}
            )
    return result


FLOW_COLUMNS = ("open_start", "created", "amount_up", "amount_down", "won", "lost", "open_end")
FLOW_COLUMNS += ("pushed_out", "pulled_in")
FLOW_COLUMNS += tuple(f"{c}_deals" for c in FLOW_COLUMNS if c not in ("amount_up", "amount_down"))


def add(flow: dict, column: str, amount: Decimal) -> None:
    flow[column] += amount
    flow[f"{column}_deals"] += 1


def month_ends(first_known: datetime, as_of: datetime) -> list[datetime]:
    """The end of each month from the one before the first known deal to as_of's (cut there)."""
    month = date(first_known.year, first_known.month, 1) - timedelta(days=1)
    month = datetime(month.year, month.month, 1)
    ends = []
    while month <= as_of:
        following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
        ends.append(min(following - timedelta(microseconds=1), as_of))
        month = following
    return ends


def value_at(
    d: dict, snapshots: list[datetime], as_of: datetime, t: datetime
) -> tuple[Decimal, date | None]:
    """The deal's amount and expected close date at t, as known at as_of."""
    seen = sorted(
        (
            (snapshots[i], amount, close_date)
            for i, amount, close_date in d["seen"]
            if i < len(snapshots) and snapshots[i] <= as_of
        ),
        key=lambda s: s[0],
    )
    earlier = [s for s in seen if s[0] <= t]
    _, amount, close_date = (
        earlier[-1] if earlier else seen[0] if seen else (0, d["amount"], d["close_date"])
    )
    changes = sorted(
        ((at(day), old, new) for day, old, new in d["close_date_changes"]), key=lambda c: c[0]
    )
    changes = [c for c in changes if c[0] <= as_of]
    if changes:
        before = [c for c in changes if c[0] <= t]
        close_date = before[-1][2] if before else changes[0][1]
    return Decimal(str(amount or 0)).quantize(Decimal("0.01")), close_date
