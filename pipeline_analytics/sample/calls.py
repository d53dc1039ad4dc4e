"""The reps' forecast calls on the simulated deals (Commit, Best Case, Pipeline), with known
calibration, for the renderings and the generic sample.

A rep makes a call at each stage change, on the close date the deal carries then. Where the
outcome of that call is known at the simulation's end (the deal closed, or the quarter of that
close date is over), the call follows it: a deal that will be won inside that quarter is called
Commit / Best Case / Pipeline with CALL_IF_WON_IN_QUARTER, any other with CALL_IF_NOT. Where it is
not known yet (an open deal due in a quarter still running), the call follows the stage
(CALL_BY_STAGE). Closed deals are Closed (won) or Omitted (lost), as Salesforce sets them.

So, among calls whose quarter is over, P(Commit | won in the quarter) = 0.70 and
P(Commit | not won in it) = 0.10: a test reads them back from the category marts. The draws come
from their own random stream (seed, CALL_STREAM), so the simulator's deals, history and
activities are exactly as before.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from pipeline_analytics.sample.simulator import LOST_STAGE, WON_STAGE, SimulatedPipeline

# Entropy added to the seed for the calls' random stream (the activities use 1).
CALL_STREAM = 2
OPEN_CALLS = ("Commit", "Best Case", "Pipeline")
CLOSED_CALLS = {WON_STAGE: "Closed", LOST_STAGE: "Omitted"}


def deal_status(stage: pl.Expr) -> pl.Expr:
    """The deal's status (won, lost or open) from the simulator's stage."""
    return (
        pl.when(stage == WON_STAGE)
        .then(pl.lit("won"))
        .when(stage == LOST_STAGE)
        .then(pl.lit("lost"))
        .otherwise(pl.lit("open"))
    )


# Shares of (Commit, Best Case, Pipeline) of a call whose outcome is known at the end.
CALL_IF_WON_IN_QUARTER = (0.70, 0.20, 0.10)
CALL_IF_NOT = (0.10, 0.25, 0.65)
# Shares of a call whose quarter is still running, by the deal's stage; other stages EARLY_CALL.
CALL_BY_STAGE = {"Negotiation": (0.50, 0.30, 0.20), "Proposal": (0.25, 0.35, 0.40)}
EARLY_CALL = (0.05, 0.15, 0.80)


def call_draws(pipeline: SimulatedPipeline) -> pl.Series:
    """One uniform draw per stage_history row (in its order), from the calls' own stream."""
    rng = np.random.default_rng([pipeline.truth["seed"], CALL_STREAM])
    return pl.Series("call_draw", rng.random(pipeline.stage_history.height))


def quarter_start(day: pl.Expr) -> pl.Expr:
    """The calendar quarter holding a date (the sample's fiscal year starts in January)."""
    return day.dt.truncate("1q")


def rep_call(
    stage: pl.Expr,
    draw: pl.Expr,
    close_date: pl.Expr,
    status: pl.Expr,
    closed_on: pl.Expr,
    end: date,
) -> pl.Expr:
    """The call at a stage change: stage, its draw, the close date the deal had then (a date),
    the deal's final status and close day (a date, NULL while open), the simulation's end."""
    quarter = quarter_start(close_date)
    quarter_over = quarter.dt.offset_by("1q") <= pl.lit(end).dt.offset_by("1d")
    known = (status != "open") | quarter_over
    won_in_quarter = (status == "won") & (quarter_start(closed_on) == quarter)
    shares = [
        pl.when(known & won_in_quarter)
        .then(pl.lit(CALL_IF_WON_IN_QUARTER[i]))
        .when(known)
        .then(pl.lit(CALL_IF_NOT[i]))
        .otherwise(
            stage.replace_strict({s: p[i] for s, p in CALL_BY_STAGE.items()}, default=EARLY_CALL[i])
        )
        for i in range(len(OPEN_CALLS))
    ]
    return (
        pl.when(stage.is_in(list(CLOSED_CALLS)))
        .then(stage.replace_strict(CLOSED_CALLS, default=None))
        .when(draw < shares[0])
        .then(pl.lit(OPEN_CALLS[0]))
        .when(draw < shares[0] + shares[1])
        .then(pl.lit(OPEN_CALLS[1]))
        .otherwise(pl.lit(OPEN_CALLS[2]))
    )


def current_calls(pipeline: SimulatedPipeline) -> pl.DataFrame:
    """Each deal's call as exported at the end: the call made at its last stage change, on the
    deal's final close date (opportunity_id, forecast_category)."""
    end = date.fromisoformat(pipeline.truth["end"])
    last = (
        pipeline.stage_history.with_columns(call_draws(pipeline))
        .group_by("opportunity_id", maintain_order=True)
        .last()
    )
    deals = pipeline.deals.select(
        "opportunity_id",
        pl.col("close_date").str.slice(0, 10).str.to_date("%Y-%m-%d").alias("close_day"),
        deal_status(pl.col("deal_stage")).alias("status"),
    )
    closed_on = pl.when(pl.col("status") != "open").then(pl.col("close_day"))
    return deals.join(last, on="opportunity_id", how="left").select(
        "opportunity_id",
        rep_call(
            pl.col("stage"),
            pl.col("call_draw"),
            pl.col("close_day"),
            pl.col("status"),
            closed_on,
            end,
        ).alias("forecast_category"),
    )
