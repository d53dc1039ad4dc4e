"""The stage-weighted forecast and int_stage_to_close, on a hand-built warehouse.

Pipeline 'default': open stages Qualify (1), Propose (2); terminal Won, Lost.
History (all closed before as_of), days from FIRST entry into the stage to close:

    won deal   Qualify  Propose
    W1           20       10
    W2           30       20
    W3           50       30    (re-enters Qualify and Propose; first entries count)
    W4           70       40
    W5          150      130
    W6          260      200
    L1, L2 lost at Propose; L3, L4 lost at Qualify.

Win rates: Qualify 6 won / (6 + 4 lost) = 0.6; Propose 6 / (6 + 2) = 0.75.

as_of = 2026-03-16 00:00. Month 1 is March (the month containing as_of). Month ends in days after
as_of: Mar 16, Apr 46, May 77, Jun 107, Jul 138, Aug 169.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.build import build
from pipeline_analytics.errors import InputError
from pipeline_analytics.forecast.stage_weighted import run_forecast
from pipeline_analytics.warehouse import connect

AS_OF = datetime(2026, 3, 16)
MONTHS = [date(2026, m, 1) for m in range(3, 9)]

STAGE_ORDER = {
    ("default", "Qualify"): 1,
    ("default", "Propose"): 2,
    ("renewals", "Renew"): 1,
}
STAGES = [
    ("default", "Qualify", 1, False, False),
    ("default", "Propose", 2, False, False),
    ("default", "Won", None, True, False),
    ("default", "Lost", None, False, True),
    ("renewals", "Renew", 1, False, False),
    ("renewals", "Renewed", None, True, False),
    ("renewals", "Churned", None, False, True),
]

Stint = tuple[str, datetime | None, datetime | None]


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def add_deal(
    con: duckdb.DuckDBPyConnection,
    deal_id: str,
    status: str,
    stints: list[Stint],
    *,
    pipeline: str = "default",
    amount_base: float | None = None,
    probability: float | None = None,
    closed_at: datetime | None = None,
) -> None:
    """One deal and its stage events; its current stage is its last stint's."""
    stage = stints[-1][0]
    known_entries = [entered for _, entered, _ in stints if entered is not None]
    created_at = min(known_entries, default=ago(100))
    con.execute(
        "insert into deals (source, deal_id, pipeline, stage, stage_order, status, amount_base,"
        " probability, created_at, closed_at, snapshot_at) values ('crm', ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?)",
        [
            deal_id,
            pipeline,
            stage,
            STAGE_ORDER.get((pipeline, stage)),
            status,
            amount_base,
            probability,
            created_at,
            closed_at,
            AS_OF,
        ],
    )
    seen: dict[str, int] = {}
    for stint_stage, entered, exited in stints:
        seen[stint_stage] = seen.get(stint_stage, 0) + 1
        con.execute(
            "insert into deal_stage_events values ('crm', ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                deal_id,
                pipeline,
                stint_stage,
                STAGE_ORDER.get((pipeline, stint_stage)),
                entered,
                exited,
                seen[stint_stage],
                "current_only" if entered is None else "history",
            ],
        )


def add_won(con: duckdb.DuckDBPyConnection, deal_id: str, closed: datetime, stints: list[Stint]):
    add_deal(
        con, deal_id, "won", [*stints, ("Won", closed, None)], amount_base=1.0, closed_at=closed
    )


def add_lost(con: duckdb.DuckDBPyConnection, deal_id: str, closed: datetime, stints: list[Stint]):
    add_deal(
        con, deal_id, "lost", [*stints, ("Lost", closed, None)], amount_base=1.0, closed_at=closed
    )


def add_history(con: duckdb.DuckDBPyConnection) -> None:
    """The won and lost deals of the module docstring, closed in autumn 2025."""
    for i, (deal_id, qualify_days, propose_days) in enumerate(
        [("W1", 20, 10), ("W2", 30, 20), ("W4", 70, 40), ("W5", 150, 130), ("W6", 260, 200)]
    ):
        c = datetime(2025, 10, 1) + timedelta(days=7 * i)
        qualify, propose = c - timedelta(days=qualify_days), c - timedelta(days=propose_days)
        add_won(con, deal_id, c, [("Qualify", qualify, propose), ("Propose", propose, c)])
    c = datetime(2025, 11, 20)
    add_won(
        con,
        "W3",
        c,
        [
            ("Qualify", c - timedelta(days=50), c - timedelta(days=30)),
            ("Propose", c - timedelta(days=30), c - timedelta(days=20)),
            ("Qualify", c - timedelta(days=20), c - timedelta(days=10)),
            ("Propose", c - timedelta(days=10), c),
        ],
    )
    c = datetime(2025, 12, 1)
    for deal_id in ("L1", "L2"):
        add_lost(
            con,
            deal_id,
            c,
            [
                ("Qualify", c - timedelta(days=30), c - timedelta(days=20)),
                ("Propose", c - timedelta(days=20), c),
            ],
        )
    for deal_id in ("L3", "L4"):
        add_lost(con, deal_id, c, [("Qualify", c - timedelta(days=15), c)])


def add_open_deals(con: duckdb.DuckDBPyConnection) -> None:
    """O1..O4: the open deals whose forecast test_hand_computed_forecast works out."""
    # O1 is 12 days into its current Propose stint, 22 days after its first Propose entry.
    add_deal(
        con,
        "O1",
        "open",
        [
            ("Qualify", ago(40), ago(22)),
            ("Propose", ago(22), ago(18)),
            ("Qualify", ago(18), ago(12)),
            ("Propose", ago(12), None),
        ],
        amount_base=1000.0,
    )
    add_deal(
        con,
        "O2",
        "open",
        [("Qualify", ago(45), ago(25)), ("Propose", ago(25), None)],
        amount_base=2000.0,
    )
    add_deal(con, "O3", "open", [("Qualify", ago(5), None)], amount_base=3000.0)
    add_deal(con, "O4", "open", [("Qualify", ago(20), None)], amount_base=500.0)


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    con.executemany("insert into stages values (?, ?, ?, ?, ?, null)", STAGES)
    add_history(con)
    add_open_deals(con)
    yield con
    con.close()


def build_as_of(con: duckdb.DuckDBPyConnection) -> None:
    build(con, lookback_days=365, currency="USD", as_of=AS_OF)


def bookings(con: duckdb.DuckDBPyConnection, run_id: int) -> list[tuple]:
    return con.execute(
        "select month, component, mean, p10, p50, p90 from forecast_bookings"
        " where run_id = ? order by month",
        [run_id],
    ).fetchall()


def forecast_deals(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, tuple]:
    rows = con.execute(
        "select deal_id, win_probability, expected_close_month, expected_value_base"
        " from forecast_deals where run_id = ?",
        [run_id],
    ).fetchall()
    return {deal_id: tuple(rest) for deal_id, *rest in rows}


def test_hand_computed_forecast(con):
    build_as_of(con)
    run_id = run_forecast(con)

    # O1 Propose, age 12 (current stint; from its first entry it would be 22, leaving only 4
    #   durations > 22 and the unconditional fallback). Durations > 12: 20 30 40 130 200 (5, enough)
    #   -> remaining 8 | 18 28 | - | - | 118 | - , 188 beyond Aug.
    #   P = 1/5 2/5 0 0 1/5 0; weight 1000 x 0.75 = 750 -> 150 300 0 0 150 0; EV 750 x 4/5 = 600.
    # O2 Propose, age 25. Durations > 25: 30 40 130 200 (4 < 5) -> unconditional from as_of:
    #   10 | 20 30 40 | - | - | 130 | - , 200 beyond. P = 1/6 3/6 0 0 1/6 0;
    #   weight 2000 x 0.75 = 1500 -> 250 750 0 0 250 0; EV 1500 x 5/6 = 1250.
    # O3 Qualify, age 5. Durations > 5: all 6 -> remaining 15 | 25 45 | 65 | - | - | 145,
    #   255 beyond.
    #   P = 1/6 2/6 1/6 0 0 1/6; weight 3000 x 0.6 = 1800 -> 300 600 300 0 0 300; EV 1500.
    # O4 Qualify, age 20: a deal 20 days in did not close at day 20, so the 20-day duration is cut;
    #   > 20: 30 50 70 150 260 (5) -> remaining 10 | 30 | 50 | - | 130 | -, 240 beyond.
    #   P = 1/5 1/5 1/5 0 1/5 0; weight 500 x 0.6 = 300 -> 60 60 60 0 60 0; EV 300 x 4/5 = 240.
    #   Its likeliest month is March, the earliest of four equally likely ones.
    # Months: Mar 150+250+300+60 = 760, Apr 300+750+600+60 = 1710, May 300+60 = 360, Jun 0,
    #   Jul 150+250+60 = 460, Aug 300.
    expected = [760.0, 1710.0, 360.0, 0.0, 460.0, 300.0]
    assert [row[0] for row in bookings(con, run_id)] == MONTHS
    assert [row[2] for row in bookings(con, run_id)] == pytest.approx(expected, rel=1e-12)
    # No bands from this method: p10/p50/p90 stay NULL.
    assert {row[1:2] + row[3:] for row in bookings(con, run_id)} == {
        ("open_pipeline", None, None, None)
    }

    april = date(2026, 4, 1)
    deals = forecast_deals(con, run_id)
    assert deals.keys() == {"O1", "O2", "O3", "O4"}
    assert deals["O1"] == (0.75, april, pytest.approx(600.0))
    assert deals["O2"] == (0.75, april, pytest.approx(1250.0))
    assert deals["O3"] == (0.6, april, pytest.approx(1500.0))
    assert deals["O4"] == (0.6, date(2026, 3, 1), pytest.approx(240.0))

    # Mass beyond the horizon is outside the forecast: 3590 <= sum of amount x win = 4350.
    within, weighted = con.execute(
        "select (select sum(mean) from forecast_bookings where run_id = $run),"
        " sum(d.amount_base * f.win_probability)"
        " from forecast_deals as f join deals as d using (source, deal_id) where f.run_id = $run",
        {"run": run_id},
    ).fetchall()[0]
    assert within == pytest.approx(3590.0)
    assert weighted == pytest.approx(4350.0)

    run = con.execute(
        "select run_id, as_of, horizon_months, simulations, seed, method, config from forecast_runs"
    ).fetchall()
    assert run[0][:6] == (1, AS_OF, 6, 0, None, "stage_weighted")
    assert json.loads(run[0][6])["horizon_months"] == 6


def test_fallbacks(con, caplog):
    # O5: stage 'Legacy' is not configured -> pipeline-wide win rate (Qualify, 0.6); no history.
    add_deal(con, "O5", "open", [("Legacy", ago(3), None)], amount_base=100.0, probability=0.2)
    # O6, O7: 'renewals' has no closed deals, so no win rates -> CRM probability 0.4, then 0.
    for deal_id, probability in (("O6", 0.4), ("O7", None)):
        add_deal(
            con,
            deal_id,
            "open",
            [("Renew", ago(10), None)],
            pipeline="renewals",
            amount_base=1000.0,
            probability=probability,
        )
    # O8: Propose, entry time unknown -> unconditional timing, like O2:
    #   P = 1/6 3/6 0 0 1/6 0; weight 600 x 0.75 = 450 -> 75 225 0 0 75 0; EV 375.
    add_deal(con, "O8", "open", [("Propose", None, None)], amount_base=600.0)
    # O9: no amount -> adds 0 and has no expected value; timing as O3 (mode April).
    add_deal(con, "O9", "open", [("Qualify", ago(5), None)])
    build_as_of(con)

    with caplog.at_level(logging.INFO, logger="pipeline_analytics.forecast.stage_weighted"):
        run_id = run_forecast(con)

    # Months: the hand-computed 760 1710 360 0 460 300 plus O8's 75 225 0 0 75 0.
    expected = [835.0, 1935.0, 360.0, 0.0, 535.0, 300.0]
    assert [row[2] for row in bookings(con, run_id)] == pytest.approx(expected, rel=1e-12)
    deals = forecast_deals(con, run_id)
    assert deals["O5"] == (0.6, None, 0.0)
    assert deals["O6"] == (0.4, None, 0.0)
    assert deals["O7"] == (0.0, None, 0.0)
    assert deals["O8"] == (0.75, date(2026, 4, 1), pytest.approx(375.0))
    assert deals["O9"] == (0.6, date(2026, 4, 1), None)

    logged = caplog.text
    assert "given the pipeline-wide win rate (first stage): 1" in logged
    assert "given their CRM probability: 1" in logged
    assert "or CRM probability, given 0: 1" in logged
    assert "without amount_base, adding 0 to the forecast: 1" in logged
    assert "took longer than their age in it (or the age is unknown): 2" in logged  # O2, O8
    assert "without close timing and adding nothing to the forecast: 3" in logged  # O5-O7


def test_runs_are_kept(con):
    build_as_of(con)
    first = run_forecast(con)
    tables = ("forecast_runs", "forecast_bookings", "forecast_deals")
    before = {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}

    second = run_forecast(con, horizon_months=3, as_of=datetime(2026, 4, 2))

    assert (first, second) == (1, 2)
    for table in tables:
        rows = con.execute(f"select * from {table} where run_id = 1 order by all").fetchall()
        assert rows == before[table]
    # Month 1 of the second run is April, the month containing its as_of.
    assert [row[0] for row in bookings(con, second)] == [date(2026, m, 1) for m in (4, 5, 6)]
    assert con.execute("select as_of from forecast_runs where run_id = 2").fetchall() == [
        (datetime(2026, 4, 2),)
    ]


def test_refuses_without_build_or_horizon(con):
    with pytest.raises(InputError, match="has not been built"):
        run_forecast(con)
    build_as_of(con)
    with pytest.raises(InputError, match="horizon_months"):
        run_forecast(con, horizon_months=0)
    assert con.execute("select count(*) from forecast_runs").fetchall() == [(0,)]


def test_stage_to_close_durations(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    con.executemany("insert into stages values (?, ?, ?, ?, ?, null)", STAGES)
    c = datetime(2026, 1, 10)
    # Kept: Qualify 20.5 days (fractional: 12 hours count), Propose 10.
    add_won(
        con,
        "W1",
        c,
        [
            ("Qualify", c - timedelta(days=20.5), c - timedelta(days=10)),
            ("Propose", c - timedelta(days=10), c),
        ],
    )
    # First Qualify stint has no entry time: Qualify dropped. Propose kept from its first entry.
    add_won(
        con,
        "X1",
        c,
        [
            ("Qualify", None, c - timedelta(days=12)),
            ("Propose", c - timedelta(days=12), c - timedelta(days=10)),
            ("Qualify", c - timedelta(days=10), c - timedelta(days=8)),
            ("Propose", c - timedelta(days=8), c),
        ],
    )
    # Propose entered after the close (bad data): dropped; Qualify 5 days kept.
    add_won(con, "X2", c, [("Qualify", c - timedelta(days=5), c + timedelta(days=1))])
    con.execute(
        "insert into deal_stage_events values"
        " ('crm', 'X2', 'default', 'Propose', 2, ?, ?, 1, 'history')",
        [c + timedelta(days=1), c + timedelta(days=2)],
    )
    # Closed after as_of: not known at as_of. Lost: not a won duration.
    add_won(con, "X3", AS_OF + timedelta(days=1), [("Qualify", c, AS_OF + timedelta(days=1))])
    add_lost(con, "X4", c, [("Qualify", c - timedelta(days=3), c)])
    build_as_of(con)

    rows = con.execute(
        "select deal_id, stage, stage_order, days_to_close from int_stage_to_close order by all"
    ).fetchall()
    # X1 Propose: first entry 12 days before close, not the 8 of its last stint.
    assert rows == [
        ("W1", "Propose", 2, 10.0),
        ("W1", "Qualify", 1, 20.5),
        ("X1", "Propose", 2, 12.0),
        ("X2", "Qualify", 1, 5.0),
    ]
    con.close()
