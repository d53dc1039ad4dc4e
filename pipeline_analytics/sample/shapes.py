"""Export shapes seen in real CRM exports, rendered from the simulator, to test runs end to end.

Most real exports are poorer than the bundled sample: no stage history, no lost deals, no amounts
on open deals, close dates nobody updates. Each shape takes one simulated pipeline and removes or
bends what that kind of export lacks, then writes a generic CSV export (`deals.csv`, and
`stage_history.csv` when the shape has history) and a `pipeline.toml` whose `[sources.columns]`
maps only the columns the file has. The config keeps the warehouse and the reports in the same
folder, so `pipeline-analytics --config DIR/pipeline.toml run` is self-contained.

    python -m pipeline_analytics.sample.shapes OUT_DIR [--deals N] [--seed S]

writes every shape into OUT_DIR/<shape>/.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipeline_analytics import spreadsheet
from pipeline_analytics.sample.simulator import (
    LOST_STAGE,
    OPEN_STAGES,
    TIMESTAMP_FORMAT,
    WON_STAGE,
    simulate,
)

DEFAULT_DEALS = 300  # a small team's two years: enough for a backtest, quick to run
DEFAULT_SEED = 7
DEFAULT_SIMULATIONS = 2_000
END = date(2026, 10, 31)  # fixed, so a shape is the same files whenever it is written
YEARS = 2.0
ONE_MONTH = timedelta(days=30)
DATE_FORMAT = "%Y-%m-%d"

# Canonical column -> header in the simulator's deals file (as in data/sample/pipeline.toml).
DEAL_HEADERS = {
    "deal_id": "opportunity_id",
    "name": "opportunity_name",
    "account": "account",
    "owner": "sales_agent",
    "lead_source": "lead_source",
    "deal_type": "deal_type",
    "stage": "deal_stage",
    "amount": "close_value",
    "currency": "currency",
    "created_at": "engage_date",
    "closed_at": "close_date",  # actual close when closed, expected close while open
    "updated_at": "last_modified",
}
TIMESTAMP_HEADERS = ("engage_date", "last_modified")  # close_date is text: a date or a timestamp
DATE_HEADERS = ("engage_date", "close_date", "last_modified")


@dataclass(frozen=True)
class ShapedExport:
    """What one export shape holds: the deals file and, if the shape has one, the stage history."""

    deals: pl.DataFrame
    history: pl.DataFrame | None


Shaper = Callable[[int, int], ShapedExport]  # (n_deals, seed) -> the export


def _simulated(n_deals: int, seed: int, years: float = YEARS) -> ShapedExport:
    pipeline = simulate(n_deals, seed, end=END, years=years)
    return ShapedExport(pipeline.deals, pipeline.stage_history)


def _is_open() -> pl.Expr:
    return pl.col("deal_stage").is_in(OPEN_STAGES)


def _keep_deals(export: ShapedExport, keep: pl.Expr) -> ShapedExport:
    """Only the deals matching `keep`, and only their history."""
    deals = export.deals.filter(keep)
    history = export.history
    if history is not None:
        history = history.filter(pl.col("opportunity_id").is_in(deals["opportunity_id"].to_list()))
    return ShapedExport(deals, history)


def five_deals(n_deals: int, seed: int) -> ShapedExport:
    """A new small team: a handful of deals over a few months, with every outcome present.

    Five deals drawn straight from the simulator are often all lost or all open; taking them in
    turn from won, lost and open deals (oldest first) keeps the export tiny but not degenerate.
    """
    export = _simulated(max(40, 10 * n_deals), seed, years=0.5)
    outcome = (
        pl.when(pl.col("deal_stage") == WON_STAGE)
        .then(0)
        .when(pl.col("deal_stage") == LOST_STAGE)
        .then(1)
        .otherwise(2)
    )
    picked = (
        export.deals.with_columns(outcome.alias("_outcome"))
        .with_columns(pl.int_range(pl.len()).over("_outcome").alias("_turn"))
        .sort("_turn", "_outcome")
        .head(n_deals)["opportunity_id"]
    )
    return _keep_deals(export, pl.col("opportunity_id").is_in(picked.to_list()))


def no_open(n_deals: int, seed: int) -> ShapedExport:
    """A win/loss extract: closed deals only."""
    return _keep_deals(_simulated(n_deals, seed), ~_is_open())


def no_closed(n_deals: int, seed: int) -> ShapedExport:
    """An open-pipeline report: open deals only, nothing won or lost to learn from."""
    return _keep_deals(_simulated(n_deals, seed), _is_open())


def no_lost(n_deals: int, seed: int) -> ShapedExport:
    """A report with the default filter that hides lost deals (or a young org): won and open."""
    return _keep_deals(_simulated(n_deals, seed), pl.col("deal_stage") != LOST_STAGE)


def no_amounts(n_deals: int, seed: int) -> ShapedExport:
    """No amount column at all (and so no currency either)."""
    export = _simulated(n_deals, seed)
    return ShapedExport(export.deals.drop("close_value", "currency"), export.history)


def open_amounts_blank(n_deals: int, seed: int) -> ShapedExport:
    """Amounts only on won deals: open deals blank until won, lost deals at 0."""
    export = _simulated(n_deals, seed)
    amount = (
        pl.when(_is_open())
        .then(None)
        .when(pl.col("deal_stage") == LOST_STAGE)
        .then(0.0)
        .otherwise(pl.col("close_value"))
    )
    return ShapedExport(export.deals.with_columns(amount.alias("close_value")), export.history)


def no_history(n_deals: int, seed: int) -> ShapedExport:
    """Current stage, created and close dates only: no stage history file."""
    return ShapedExport(_simulated(n_deals, seed).deals, None)


def one_month(n_deals: int, seed: int) -> ShapedExport:
    """One month of data: every deal created (and, if closed, closed) within the month.

    Two years of the simulator squeezed into the last month before END, so the deals still run
    through every stage and some are won; the cycles are just short.
    """
    pipeline = simulate(n_deals, seed, end=END, years=YEARS)
    last = datetime.combine(END, datetime.max.time()).replace(microsecond=0)
    span = last - pipeline.deals["engage_date"].min()
    factor = ONE_MONTH / span

    def squeezed(column: str) -> pl.Expr:
        return (pl.lit(last) - (pl.lit(last) - pl.col(column)) * factor).dt.truncate("1s")

    closed_at = squeezed("_close_at").dt.strftime(TIMESTAMP_FORMAT)
    deals = (
        pipeline.deals.with_columns(
            pl.col("close_date").str.to_datetime(TIMESTAMP_FORMAT, strict=False).alias("_close_at")
        )
        .with_columns(
            # An open deal's expected close date: the same share of its remaining time.
            pl.col("_close_at").fill_null(
                pl.col("close_date").str.to_date(DATE_FORMAT, strict=False).cast(pl.Datetime)
            )
        )
        .with_columns(
            squeezed("engage_date").alias("engage_date"),
            squeezed("last_modified").alias("last_modified"),
            pl.when(_is_open())
            .then(squeezed("_close_at").dt.strftime(DATE_FORMAT))
            .otherwise(closed_at)
            .alias("close_date"),
        )
        .drop("_close_at")
    )
    history = pipeline.stage_history.with_columns(squeezed("changed_at").alias("changed_at"))
    return ShapedExport(deals, history)


def one_day(n_deals: int, seed: int) -> ShapedExport:
    """Every deal created on one day, as after a migration into a new CRM.

    The created date is the first day of the data (keeping each deal's time of day), so no deal
    closes before it was created; the stage history still shows when each deal was worked.
    """
    export = _simulated(n_deals, seed)
    first_day = export.deals["engage_date"].min().date()
    created = pl.lit(first_day).cast(pl.Datetime) + (
        pl.col("engage_date") - pl.col("engage_date").dt.truncate("1d")
    )
    return ShapedExport(export.deals.with_columns(created.alias("engage_date")), export.history)


def all_overdue(n_deals: int, seed: int) -> ShapedExport:
    """Every open deal's expected close date already past, as when nobody updates them.

    Each open deal's date falls uniformly between its creation and the day before the export's
    snapshot (the latest event in the file).
    """
    export = _simulated(n_deals, seed)
    snapshot_day = export.deals["last_modified"].max().date()
    rng = np.random.default_rng([seed, 1])
    age_days = (pl.lit(snapshot_day) - pl.col("engage_date").dt.date()).dt.total_days()
    share = pl.Series("_share", rng.random(export.deals.height))
    overdue = pl.lit(snapshot_day) - pl.duration(
        days=1 + (pl.col("_share") * (age_days - 1).clip(lower_bound=0)).floor().cast(pl.Int64)
    )
    deals = (
        export.deals.with_columns(share)
        .with_columns(
            pl.when(_is_open())
            .then(overdue.dt.strftime(DATE_FORMAT))
            .otherwise(pl.col("close_date"))
            .alias("close_date")
        )
        .drop("_share")
    )
    return ShapedExport(deals, export.history)


def no_owner_source(n_deals: int, seed: int) -> ShapedExport:
    """No owner and no lead-source columns (a shared mailbox, or an export without them)."""
    export = _simulated(n_deals, seed)
    return ShapedExport(export.deals.drop("sales_agent", "lead_source"), export.history)


def missing_created(n_deals: int, seed: int) -> ShapedExport:
    """Open deals not yet engaged (the first two open stages) have no creation date.

    As in a real export where a quarter of the open deals had none: the CRM fills it in only when
    a rep first works the deal. Their stage history is kept, so it tells when they were first seen.
    """
    export = _simulated(n_deals, seed)
    not_engaged = pl.col("deal_stage").is_in(OPEN_STAGES[:2])
    created = pl.when(not_engaged).then(None).otherwise(pl.col("engage_date"))
    return ShapedExport(export.deals.with_columns(created.alias("engage_date")), export.history)


def no_dates(n_deals: int, seed: int) -> ShapedExport:
    """A win/loss extract: id, name, account, owner, source, type, stage, amount; no date at all.

    No created, close or modified dates and no stage history: the export says where each deal
    stands, not since when.
    """
    export = _simulated(n_deals, seed)
    return ShapedExport(export.deals.drop(*DATE_HEADERS), None)


# Shape name -> (renderer, default number of deals).
_SHAPERS: dict[str, tuple[Shaper, int]] = {
    "five_deals": (five_deals, 5),
    "no_open": (no_open, DEFAULT_DEALS),
    "no_closed": (no_closed, DEFAULT_DEALS),
    "no_lost": (no_lost, DEFAULT_DEALS),
    "no_amounts": (no_amounts, DEFAULT_DEALS),
    "open_amounts_blank": (open_amounts_blank, DEFAULT_DEALS),
    "no_history": (no_history, DEFAULT_DEALS),
    "one_month": (one_month, DEFAULT_DEALS),
    "one_day": (one_day, DEFAULT_DEALS),
    "all_overdue": (all_overdue, DEFAULT_DEALS),
    "no_owner_source": (no_owner_source, DEFAULT_DEALS),
    "missing_created": (missing_created, DEFAULT_DEALS),
    "no_dates": (no_dates, DEFAULT_DEALS),
}
SHAPES: tuple[str, ...] = tuple(_SHAPERS)


def render_shape(name: str, n_deals: int | None = None, seed: int = DEFAULT_SEED) -> ShapedExport:
    """The frames of one shape (what write_shape writes); n_deals defaults per shape."""
    if name not in _SHAPERS:
        raise ValueError(f"unknown export shape '{name}'; use one of {', '.join(SHAPES)}")
    shaper, default_deals = _SHAPERS[name]
    return shaper(default_deals if n_deals is None else n_deals, seed)


def write_shape(
    name: str,
    out_dir: Path,
    n_deals: int | None = None,
    seed: int = DEFAULT_SEED,
    simulations: int = DEFAULT_SIMULATIONS,
) -> Path:
    """Write one shape's export and its config into out_dir; returns the config's path.

    `simulations` goes to the config's `[forecast] simulations` (tests keep it low).
    """
    export = render_shape(name, n_deals, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    spreadsheet.write_csv(
        export.deals, out_dir / "deals.csv", datetime_format=TIMESTAMP_FORMAT, float_precision=2
    )
    if export.history is not None:
        spreadsheet.write_csv(
            export.history, out_dir / "stage_history.csv", datetime_format=TIMESTAMP_FORMAT
        )
    config = out_dir / "pipeline.toml"
    config.write_text(
        shape_config(name, export, seed=seed, simulations=simulations), encoding="utf-8"
    )
    return config


def shape_config(name: str, export: ShapedExport, *, seed: int, simulations: int) -> str:
    """A pipeline.toml for the shape: only the columns its deals file has are mapped."""
    present = set(export.deals.columns)
    columns = "\n".join(
        f'{canonical} = "{header}"'
        for canonical, header in DEAL_HEADERS.items()
        if header in present
    )
    history = ""
    if export.history is not None:
        history = (
            'history = "stage_history.csv"\n\n[sources.history_columns]\n'
            'deal_id = "opportunity_id"\nstage = "stage"\nchanged_at = "changed_at"\n'
        )
    stages = ", ".join(f'"{stage}"' for stage in OPEN_STAGES)
    return f"""# Export shape '{name}', simulated data (pipeline_analytics.sample.shapes).

[[sources]]
name = "crm"
adapter = "generic"
path = "deals.csv"
{history}
[sources.columns]
{columns}

[sources.status]
won = ["{WON_STAGE}"]
lost = ["{LOST_STAGE}"]

[pipeline]
stages = [{stages}]
currency = "USD"

[forecast]
simulations = {simulations}
seed = {seed}

[warehouse]
path = "warehouse.duckdb"

[report]
output_dir = "reports"
title = "Pipeline report - export shape {name}"
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write every export shape into OUT_DIR/<shape>/.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument(
        "--deals", type=int, default=None, help="deals per shape (default: per shape)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for name in SHAPES:
        print(write_shape(name, args.out_dir / name, n_deals=args.deals, seed=args.seed))


if __name__ == "__main__":
    main()
