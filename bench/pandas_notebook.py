"""What an analyst's pandas notebook computes from the bench's generic export, timed by the bench.

The yardstick of `make bench`: the headline KPIs of mart_kpis, the stage-to-stage conversion of
mart_stage_conversion and the time in stage of mart_stage_duration, computed the plain vectorized
pandas way -- pd.read_csv, boolean masks, sort_values, shift, groupby -- straight from
`deals.csv` and `stage_history.csv`, with the definitions of those marts (the SQL files' headers)
so that the bench can check that the numbers are the warehouse's. It knows the bench export's
shape (column names, "Won"/"Lost", one currency, one pipeline, the stage order of the bench
config): a notebook is written for one export, not for every CRM.

    python bench/pandas_notebook.py DEALS_CSV HISTORY_CSV OUT_JSON

Writes its figures and its own phase times (reading, computing) to OUT_JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

# The bench config's [pipeline] stages, in order; "Won" and "Lost" are the closed stages.
STAGES = ["Prospecting", "Qualification", "Discovery meeting", "Proposal", "Negotiation"]
LOOKBACK_DAYS = 365  # mart_kpis's default trailing window
DAY = 86_400.0


def read(deals_csv: str, history_csv: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    deals = pd.read_csv(
        deals_csv,
        usecols=[
            "opportunity_id",
            "deal_stage",
            "close_value",
            "engage_date",
            "close_date",
            "last_modified",
        ],
        parse_dates=["engage_date", "last_modified"],
        date_format="%Y-%m-%d %H:%M:%S",
    )
    # An open deal's close_date is its expected close day (no time), a closed one's the instant.
    deals["close_date"] = pd.to_datetime(deals["close_date"], format="ISO8601")
    history = pd.read_csv(history_csv, parse_dates=["changed_at"], date_format="%Y-%m-%d %H:%M:%S")
    return deals, history


def kpis(deals: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, float | int | None]:
    """mart_kpis: closed deals count in the window when start < closed_at <= as_of."""
    start = as_of - pd.Timedelta(days=LOOKBACK_DAYS)
    won = deals["deal_stage"].eq("Won")
    lost = deals["deal_stage"].eq("Lost")
    closed_at = deals["close_date"].where(won | lost)
    created = deals["engage_date"]
    known = created <= as_of
    in_window = (closed_at > start) & (closed_at <= as_of)
    won_w, lost_w = won & in_window, lost & in_window
    amount = deals["close_value"]
    cycle_days = (closed_at - created) // pd.Timedelta(seconds=1) / DAY
    won_cycle = cycle_days[won_w & (closed_at >= created)]
    open_now = known & ~(closed_at <= as_of)
    created_w = (created > start) & (created <= as_of)

    n_won, n_lost = int(won_w.sum()), int(lost_w.sum())
    won_amount, lost_amount = amount[won_w].sum(), amount[lost_w].sum()
    win_rate = n_won / (n_won + n_lost) if n_won + n_lost else None
    avg_won = amount[won_w].mean() if n_won else None
    mean_cycle = won_cycle.mean() if len(won_cycle) else None
    n_open = int(open_now.sum())
    n_created = int(created_w.sum())
    created_won = int((created_w & won & (closed_at <= as_of)).sum())
    velocity = (
        n_open * win_rate * avg_won / mean_cycle
        if win_rate is not None and avg_won is not None and mean_cycle
        else None
    )
    return {
        "open_deals": n_open,
        "open_pipeline_base": float(amount[open_now].sum()),
        "won_deals": n_won,
        "lost_deals": n_lost,
        "won_amount_base": float(won_amount),
        "lost_amount_base": float(lost_amount),
        "win_rate": win_rate,
        "win_rate_amount": float(won_amount / (won_amount + lost_amount))
        if won_amount + lost_amount
        else None,
        "avg_won_size": _float(avg_won),
        "median_won_size": _float(amount[won_w].median()),
        "mean_cycle_days_won": _float(mean_cycle),
        "median_cycle_days_won": _float(won_cycle.median()),
        "sales_velocity_per_day": _float(velocity),
        "created_deals": n_created,
        "created_pipeline_base": float(amount[created_w].sum()),
        "created_won_deals": created_won,
        "created_to_won_rate": created_won / n_created if n_created else None,
    }


def stints(history: pd.DataFrame) -> pd.DataFrame:
    """The history's rows collapsed into stints: a deal's consecutive rows in one stage are one
    stint, entered at the first and left when the next stage is entered."""
    h = history.sort_values(["opportunity_id", "changed_at"], kind="stable")
    same_deal = h["opportunity_id"].eq(h["opportunity_id"].shift())
    first_of_stint = ~(same_deal & h["stage"].eq(h["stage"].shift()))
    s = h[first_of_stint].rename(columns={"changed_at": "entered_at"})
    next_same_deal = s["opportunity_id"].eq(s["opportunity_id"].shift(-1))
    s["exited_at"] = s["entered_at"].shift(-1).where(next_same_deal)
    return s


def stage_conversion(
    deals: pd.DataFrame, stint_rows: pd.DataFrame, as_of: pd.Timestamp
) -> dict[str, dict[str, float | int | None]]:
    """mart_stage_conversion: each deal's highest open stage (history or current stage) decides
    which stages it reached; a won deal passed them all."""
    order = {stage: k for k, stage in enumerate(STAGES, start=1)}
    known = deals[deals["engage_date"] <= as_of]
    entered = stint_rows[stint_rows["entered_at"] <= as_of]
    highest = entered["stage"].map(order).groupby(entered["opportunity_id"]).max()
    closed_by_as_of = known["deal_stage"].isin(["Won", "Lost"]) & (known["close_date"] <= as_of)
    status = known["deal_stage"].str.lower().where(closed_by_as_of, "open")
    current = known["deal_stage"].map(order).where(~closed_by_as_of)
    furthest = pd.concat([known["opportunity_id"].map(highest), current], axis=1).max(
        axis=1
    )  # NaN: no open stage known
    won, lost, is_open = status.eq("won"), status.eq("lost"), status.eq("open")
    out = {}
    for stage, k in order.items():
        reached = won | (k == 1) | (furthest >= k)
        advanced = won | (furthest > k)
        here = furthest == k
        n_adv, n_lost_here = int(advanced.sum()), int((here & lost).sum())
        n_won, n_lost = int((reached & won).sum()), int((reached & lost).sum())
        out[stage] = {
            "reached": int(reached.sum()),
            "advanced": n_adv,
            "lost_here": n_lost_here,
            "open_here": int((here & is_open).sum()),
            "conversion_rate": n_adv / (n_adv + n_lost_here) if n_adv + n_lost_here else None,
            "win_rate_from_stage": n_won / (n_won + n_lost) if n_won + n_lost else None,
        }
    return out


def stage_duration(
    stint_rows: pd.DataFrame, as_of: pd.Timestamp
) -> dict[str, dict[str, float | int]]:
    """mart_stage_duration: completed stints (left by as_of, not before entered), a deal's stints
    in one stage summed, then percentiles over deals by linear interpolation."""
    done = stint_rows[
        stint_rows["exited_at"].notna()
        & (stint_rows["exited_at"] <= as_of)
        & (stint_rows["exited_at"] >= stint_rows["entered_at"])
    ]
    seconds = (done["exited_at"] - done["entered_at"]) // pd.Timedelta(seconds=1)
    per_deal = seconds.groupby([done["stage"], done["opportunity_id"]]).sum() / DAY
    by_stage = per_deal.groupby(level="stage")
    table = pd.DataFrame(
        {
            "deals": by_stage.size(),
            "mean_days": by_stage.mean(),
            "p10_days": by_stage.quantile(0.1),
            "p25_days": by_stage.quantile(0.25),
            "median_days": by_stage.median(),
            "p75_days": by_stage.quantile(0.75),
            "p90_days": by_stage.quantile(0.9),
        }
    )
    return {
        stage: {k: (int(v) if k == "deals" else float(v)) for k, v in row.items()}
        for stage, row in table.iterrows()
    }


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def main() -> None:
    deals_csv, history_csv, out = sys.argv[1:4]
    started = time.perf_counter()
    deals, history = read(deals_csv, history_csv)
    read_seconds = time.perf_counter() - started
    # The export's date: its latest event (as the warehouse's default as_of).
    as_of = max(deals["last_modified"].max(), history["changed_at"].max())
    stint_rows = stints(history)
    figures = {
        "as_of": as_of.isoformat(sep=" "),
        "kpis": kpis(deals, as_of),
        "stage_conversion": stage_conversion(deals, stint_rows, as_of),
        "stage_duration": stage_duration(stint_rows, as_of),
        "read_seconds": round(read_seconds, 2),
        "compute_seconds": round(time.perf_counter() - started - read_seconds, 2),
    }
    Path(out).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
