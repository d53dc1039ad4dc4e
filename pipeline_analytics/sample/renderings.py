"""The simulated pipeline written as real CRMs export it, to exercise (and show) each adapter.

- Salesforce Data Export: Opportunity.csv, OpportunityHistory.csv (a row per stage change plus
  close-date and amount edits, as Salesforce writes one on every such save, each with the rep's
  forecast category then: sample/calls.py), OpportunityStage.csv;
  API names, every field quoted, ids for accounts and owners, a few deleted (IsDeleted = 1) rows;
  and Lead.csv: the lead each opportunity was converted from, plus leads never converted.
- HubSpot deals export, English labels, with `Date entered` / `Date exited` columns per stage
  (only the latest stint per stage, as HubSpot keeps) and each deal's forecast category.
- Pipedrive export in Italian: `Trattativa - ...` headers, `;` separator, decimal comma,
  dd/mm/yyyy dates, Italian stage and status names, a few deleted deals; plus the deal flow
  (API /deals/{id}/flow flattened to CSV) carrying every stage change.

Every rendering holds the same deals as the generic sample of the same seed; what a format cannot
carry is listed in docs/crm-adapters.md. Run `python -m pipeline_analytics.sample.renderings`.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipeline_analytics import spreadsheet
from pipeline_analytics.sample.calls import call_draws, current_calls, deal_status, rep_call
from pipeline_analytics.sample.simulator import (
    LOST_STAGE,
    OPEN_STAGES,
    TIMESTAMP_FORMAT,
    WON_STAGE,
    SimulatedPipeline,
    simulate,
)

RENDERINGS = ("salesforce", "hubspot", "pipedrive_it")
# Salesforce and HubSpot name the closed stages like this by default.
CLOSED_WON, CLOSED_LOST = "Closed Won", "Closed Lost"
# Default probability (0-100) per open stage, as a CRM's stage settings would hold it.
STAGE_PROBABILITY = dict(zip(OPEN_STAGES, (10, 20, 40, 60, 80), strict=True))
ITALIAN_STAGES = dict(
    zip(
        OPEN_STAGES,
        ("Primo contatto", "Qualificazione", "Incontro conoscitivo", "Proposta", "Negoziazione"),
        strict=True,
    )
)
HUBSPOT_PIPELINE = "Sales Pipeline"
# HubSpot's labels for the forecast categories.
HUBSPOT_FORECAST_CATEGORY = {
    "Pipeline": "Pipeline",
    "Best Case": "Best case",
    "Commit": "Commit",
    "Closed": "Closed won",
    "Omitted": "Not forecasted",
}
# Every DELETED_EVERY-th deal is also exported once more as a deleted record (new id).
DELETED_EVERY = 97
# Every PUSH_EVERY-th deal had its close date pushed by PUSH_DAYS once, between its first two
# stage changes; every AMOUNT_EDIT_EVERY-th deal had its amount raised from 80 % to the final
# amount between its second and third stage changes.
PUSH_EVERY, PUSH_DAYS = 5, 30
AMOUNT_EDIT_EVERY, AMOUNT_BEFORE_EDIT = 7, 0.8
# Every UNCONVERTED_EVERY-th deal number also names a Salesforce lead that was never converted.
UNCONVERTED_EVERY = 2
SF_DATE = "%Y-%m-%d"
# OpportunityHistory writes the forecast category's API value; Opportunity its label.
SF_FORECAST_CATEGORY_API = {
    "Pipeline": "Pipeline",
    "Best Case": "BestCase",
    "Commit": "Forecast",
    "Closed": "Closed",
    "Omitted": "Omitted",
}
IT_TIMESTAMP, IT_DATE = "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"


def write_rendering(name: str, pipeline: SimulatedPipeline, out_dir: Path) -> list[Path]:
    """Write one rendering into `out_dir` (a folder per rendering); returns the files written."""
    writers = {
        "salesforce": write_salesforce_with_leads,
        "hubspot": write_hubspot,
        "pipedrive_it": write_pipedrive_it,
    }
    return writers[name](pipeline, out_dir / name)


def deal_facts(pipeline: SimulatedPipeline) -> pl.DataFrame:
    """One row per deal with what every rendering needs, derived from the generic frames."""
    history = pipeline.stage_history.with_columns(
        pl.col("stage").is_in(OPEN_STAGES).alias("is_open_stage")
    )
    last_open = (
        history.filter(pl.col("is_open_stage"))
        .group_by("opportunity_id")
        .agg(
            pl.col("stage").last().alias("last_open_stage"),
            pl.col("changed_at").last().alias("last_open_entered_at"),
            pl.len().alias("open_entries"),
        )
    )
    activity_counts = pipeline.activities.group_by("opportunity_id").agg(
        pl.len().alias("activity_count")
    )
    deals = pipeline.deals.with_columns(
        deal_status(pl.col("deal_stage")).alias("status"),
        pl.col("opportunity_id").str.slice(4).cast(pl.Int64).alias("number"),
    )
    closed = pl.col("status") != "open"
    return (
        deals.join(last_open, on="opportunity_id", how="left")
        .join(activity_counts, on="opportunity_id", how="left")
        .join(current_calls(pipeline), on="opportunity_id", how="left")
        .with_columns(
            pl.col("activity_count").fill_null(0),
            pl.when(closed)
            .then(pl.col("close_date").str.to_datetime(TIMESTAMP_FORMAT))
            .alias("closed_at"),
            pl.when(~closed)
            .then(pl.col("close_date").str.to_date("%Y-%m-%d"))
            .alias("expected_close_date"),
        )
        .sort("number")
    )


def write_salesforce(pipeline: SimulatedPipeline, out_dir: Path) -> list[Path]:
    """Opportunity, OpportunityHistory and OpportunityStage as a Data Export writes them."""
    facts = deal_facts(pipeline)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage_name = _sf_stage_name(pl.col("deal_stage"))
    accounts = sorted(facts["account"].unique().to_list())
    reps = sorted(facts["sales_agent"].unique().to_list())
    opportunities = facts.with_columns(
        _sf_id("006", pl.col("number")).alias("Id"),
        pl.lit("0").alias("IsDeleted"),
        _sf_id(
            "001", pl.col("account").replace_strict(accounts, range(1, len(accounts) + 1))
        ).alias("AccountId"),
        pl.col("opportunity_name").alias("Name"),
        stage_name.alias("StageName"),
        pl.col("close_value").alias("Amount"),
        _sf_probability(pl.col("deal_stage")).alias("Probability"),
        pl.coalesce(pl.col("closed_at").dt.date(), pl.col("expected_close_date"))
        .dt.strftime(SF_DATE)
        .alias("CloseDate"),
        pl.col("deal_type").alias("Type"),
        pl.col("lead_source").alias("LeadSource"),
        (pl.col("status") != "open").cast(pl.Int8).cast(pl.String).alias("IsClosed"),
        (pl.col("status") == "won").cast(pl.Int8).cast(pl.String).alias("IsWon"),
        pl.col("forecast_category").alias("ForecastCategoryName"),
        pl.col("currency").alias("CurrencyIsoCode"),
        _sf_id("005", pl.col("sales_agent").replace_strict(reps, range(1, len(reps) + 1))).alias(
            "OwnerId"
        ),
        pl.col("engage_date").dt.strftime(TIMESTAMP_FORMAT).alias("CreatedDate"),
        pl.col("last_modified").dt.strftime(TIMESTAMP_FORMAT).alias("LastModifiedDate"),
        pl.col("last_modified").dt.strftime(TIMESTAMP_FORMAT).alias("SystemModstamp"),
    )
    columns = [
        "Id", "IsDeleted", "AccountId", "Name", "StageName", "Amount", "Probability",
        "CloseDate", "Type", "LeadSource", "IsClosed", "IsWon", "ForecastCategoryName",
        "CurrencyIsoCode", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp",
    ]  # fmt: skip
    deleted = _deleted_copies(opportunities).with_columns(pl.lit("1").alias("IsDeleted"))
    opportunity_rows = pl.concat([opportunities, deleted]).select(columns)
    history = _sf_history(pipeline, facts, opportunities, deleted)
    stages = _sf_stages()
    paths = [
        out_dir / "Opportunity.csv",
        out_dir / "OpportunityHistory.csv",
        out_dir / "OpportunityStage.csv",
    ]
    for frame, path in zip((opportunity_rows, history, stages), paths, strict=True):
        spreadsheet.write_csv(frame, path, quote_style="always", float_precision=2)
    return paths


def write_salesforce_with_leads(pipeline: SimulatedPipeline, out_dir: Path) -> list[Path]:
    """The Data Export plus its Lead.csv (the benchmark writes the export without leads)."""
    return [*write_salesforce(pipeline, out_dir), write_salesforce_leads(pipeline, out_dir)]


def write_salesforce_leads(pipeline: SimulatedPipeline, out_dir: Path) -> Path:
    """Lead.csv: every opportunity's lead, converted when the opportunity was created, created
    1-45 days before; and for every UNCONVERTED_EVERY-th deal one more lead, never converted.

    The leads are no later than the deals, so they never move the export's latest event.
    """
    facts = deal_facts(pipeline)
    reps = sorted(facts["sales_agent"].unique().to_list())
    offset = 10 ** (len(str(facts.height)) + 1)  # ids of the unconverted leads, as in deletions
    common = [
        pl.col("account").alias("Company"),
        _sf_id("005", pl.col("sales_agent").replace_strict(reps, range(1, len(reps) + 1))).alias(
            "OwnerId"
        ),
        pl.col("lead_source").alias("LeadSource"),
        pl.lit("0").alias("IsDeleted"),
    ]
    converted = facts.with_columns(
        *common,
        _sf_id("00Q", pl.col("number")).alias("Id"),
        (pl.lit("Contact ") + pl.col("number").cast(pl.String)).alias("LastName"),
        pl.lit("Closed - Converted").alias("Status"),
        (pl.col("engage_date") - pl.duration(days=pl.col("number") % 45 + 1)).alias("created"),
        pl.lit("1").alias("IsConverted"),
        pl.col("engage_date").dt.strftime(SF_DATE).alias("ConvertedDate"),
        _sf_id("006", pl.col("number")).alias("ConvertedOpportunityId"),
    )
    unconverted = facts.filter(pl.col("number") % UNCONVERTED_EVERY == 0).with_columns(
        *common,
        _sf_id("00Q", pl.col("number") + offset).alias("Id"),
        (pl.lit("Prospect ") + pl.col("number").cast(pl.String)).alias("LastName"),
        pl.when(pl.col("number") % (2 * UNCONVERTED_EVERY) == 0)
        .then(pl.lit("Closed - Not Converted"))
        .otherwise(pl.lit("Working - Contacted"))
        .alias("Status"),
        (pl.col("engage_date") - pl.duration(days=pl.col("number") % 60 + 2)).alias("created"),
        pl.lit("0").alias("IsConverted"),
        pl.lit(None, pl.String).alias("ConvertedDate"),
        pl.lit(None, pl.String).alias("ConvertedOpportunityId"),
    )
    columns = [
        "Id", "IsDeleted", "LastName", "Company", "Status", "LeadSource", "OwnerId",
        "CreatedDate", "IsConverted", "ConvertedDate", "ConvertedOpportunityId",
    ]  # fmt: skip
    leads = (
        pl.concat([converted, unconverted])
        .with_columns(pl.col("created").dt.strftime(TIMESTAMP_FORMAT).alias("CreatedDate"))
        .select(columns)
    )
    path = out_dir / "Lead.csv"
    spreadsheet.write_csv(leads, path, quote_style="always")
    return path


def _sf_id(prefix: str, number: pl.Expr) -> pl.Expr:
    """An 18-character Salesforce-like id: key prefix, 'SIM', a zero-padded number, 'AAA'."""
    return pl.lit(prefix + "SIM") + number.cast(pl.String).str.zfill(9) + pl.lit("AAA")


def _sf_stage_name(stage: pl.Expr) -> pl.Expr:
    return stage.replace({WON_STAGE: CLOSED_WON, LOST_STAGE: CLOSED_LOST})


def _sf_probability(stage: pl.Expr) -> pl.Expr:
    return stage.replace_strict({**STAGE_PROBABILITY, WON_STAGE: 100, LOST_STAGE: 0})


def _deleted_copies(opportunities: pl.DataFrame) -> pl.DataFrame:
    """Every DELETED_EVERY-th opportunity once more under a new id, as a deleted record."""
    offset = 10 ** (len(str(opportunities.height)) + 1)
    return opportunities.filter(pl.col("number") % DELETED_EVERY == 0).with_columns(
        (pl.col("number") + offset).alias("number"),
        _sf_id("006", pl.col("number") + offset).alias("Id"),
    )


def _sf_history(
    pipeline: SimulatedPipeline,
    facts: pl.DataFrame,
    opportunities: pl.DataFrame,
    deleted: pl.DataFrame,
) -> pl.DataFrame:
    """OpportunityHistory: the stage rows plus one close-date and one amount edit on some deals.

    Each row holds the state after the save: stage, amount and close date as they were then.
    """
    events = (
        pipeline.stage_history.with_columns(call_draws(pipeline))
        .join(facts.select("opportunity_id", "number", "close_value"), on="opportunity_id")
        .join(opportunities.select("number", "Id", "CloseDate"), on="number")
        .with_columns(pl.int_range(pl.len()).over("number").alias("event"))
    )
    times = (
        events.group_by("number")
        .agg(pl.col("changed_at").sort().head(3).alias("ts"))
        .select(
            "number",
            *(pl.col("ts").list.get(k, null_on_oob=True).alias(f"t{k}") for k in range(3)),
        )
    )
    midpoint = {
        "push_at": pl.col("t0") + (pl.col("t1") - pl.col("t0")) / 2,
        "edit_at": pl.col("t1") + (pl.col("t2") - pl.col("t1")) / 2,
    }
    edits = (
        events.filter(pl.col("event") == 0)
        .select("number", "Id", "close_value", "CloseDate")
        .join(times, on="number")
        .with_columns(
            pl.when((pl.col("number") % PUSH_EVERY == 0) & pl.col("t1").is_not_null())
            .then(midpoint["push_at"])
            .alias("push_at"),
            pl.when((pl.col("number") % AMOUNT_EDIT_EVERY == 0) & pl.col("t2").is_not_null())
            .then(midpoint["edit_at"])
            .alias("edit_at"),
        )
    )
    # Every row carries the stage in force at its time: edit rows copy the stage row before them.
    stage_rows = events.select(
        "number",
        "Id",
        "close_value",
        "CloseDate",
        "stage",
        "call_draw",
        pl.col("changed_at").alias("at"),
    )
    edit_rows = pl.concat(
        [
            edits.filter(pl.col(kind).is_not_null()).select(
                "number", "Id", "close_value", "CloseDate", pl.col(kind).alias("at")
            )
            for kind in ("push_at", "edit_at")
        ]
    ).sort("at")
    edit_rows = edit_rows.join_asof(
        stage_rows.select("number", "at", "stage", "call_draw").sort("at"),
        on="at",
        by="number",
        check_sortedness=False,
    )
    rows = (
        pl.concat([stage_rows, edit_rows.select(stage_rows.columns)])
        .join(edits.select("number", "push_at", "edit_at"), on="number")
        .with_columns(
            pl.when(pl.col("push_at").is_not_null() & (pl.col("at") < pl.col("push_at")))
            .then(
                (pl.col("CloseDate").str.to_date(SF_DATE) - timedelta(days=PUSH_DAYS)).dt.strftime(
                    SF_DATE
                )
            )
            .otherwise(pl.col("CloseDate"))
            .alias("CloseDate"),
            pl.when(pl.col("edit_at").is_not_null() & (pl.col("at") < pl.col("edit_at")))
            .then((pl.col("close_value") * AMOUNT_BEFORE_EDIT).round(2))
            .otherwise(pl.col("close_value"))
            .alias("Amount"),
        )
        .sort("number", "at")
    )
    deleted_numbers = deleted.select(
        "Id", (pl.col("number") % 10 ** (len(str(facts.height)) + 1)).alias("number")
    )
    deleted_rows = rows.join(deleted_numbers, on="number", suffix="_deleted").with_columns(
        pl.col("Id_deleted").alias("Id"), pl.lit("1").alias("IsDeleted")
    )
    all_rows = pl.concat(
        [
            rows.with_columns(pl.lit("0").alias("IsDeleted")),
            deleted_rows.select(*rows.columns, "IsDeleted"),
        ]
    ).sort("Id", "at")
    stage = _sf_stage_name(pl.col("stage"))
    # Each row's call is made on the close date it carries (a pushed deal's earlier rows: the old).
    outcomes = facts.select("number", "status", pl.col("closed_at").dt.date().alias("closed_on"))
    all_rows = (
        all_rows.join(outcomes, on="number", how="left")
        .sort("Id", "at")
        .with_columns(
            rep_call(
                pl.col("stage"),
                pl.col("call_draw"),
                pl.col("CloseDate").str.to_date(SF_DATE),
                pl.col("status"),
                pl.col("closed_on"),
                date.fromisoformat(pipeline.truth["end"]),
            )
            .replace_strict(SF_FORECAST_CATEGORY_API)
            .alias("ForecastCategory")
        )
    )
    return all_rows.with_columns(
        (
            pl.lit("008SIM") + pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(9) + "AAA"
        ).alias("RowId"),
        stage.alias("StageName"),
        stage.shift(1).over("Id").alias("FromOpportunityStageName"),
        _sf_probability(pl.col("stage")).alias("Probability"),
        pl.col("at").dt.strftime(TIMESTAMP_FORMAT).alias("CreatedDate"),
    ).select(
        pl.col("RowId").alias("Id"),
        pl.col("Id").alias("OpportunityId"),
        "CreatedDate",
        "StageName",
        "Amount",
        "CloseDate",
        "Probability",
        "ForecastCategory",
        "FromOpportunityStageName",
        pl.lit("").alias("PrevAmount"),
        pl.lit("").alias("PrevCloseDate"),
        "IsDeleted",
        pl.col("CreatedDate").alias("SystemModstamp"),
    )


def _sf_stages() -> pl.DataFrame:
    names = [*OPEN_STAGES, CLOSED_WON, CLOSED_LOST]
    n_open = len(OPEN_STAGES)
    return pl.DataFrame(
        {
            "Id": [f"01JSIM{i:09d}AAA" for i in range(1, len(names) + 1)],
            "MasterLabel": names,
            "ApiName": names,
            "IsActive": ["1"] * len(names),
            "SortOrder": [str(i) for i in range(1, len(names) + 1)],
            "IsClosed": ["0"] * n_open + ["1", "1"],
            "IsWon": ["0"] * n_open + ["1", "0"],
            "DefaultProbability": [str(STAGE_PROBABILITY[s]) for s in OPEN_STAGES] + ["100", "0"],
            "ForecastCategoryName": ["Pipeline"] * n_open + ["Closed", "Omitted"],
        }
    )


def write_hubspot(pipeline: SimulatedPipeline, out_dir: Path) -> list[Path]:
    """A HubSpot deals export with English labels and per-stage entered/exited dates."""
    facts = deal_facts(pipeline)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = pl.col("deal_stage").replace({WON_STAGE: CLOSED_WON, LOST_STAGE: CLOSED_LOST})
    timestamp = TIMESTAMP_FORMAT
    deals = facts.select(
        (pl.col("number") + 9_000_000_000).alias("Record ID"),
        pl.col("opportunity_name").alias("Deal Name"),
        pl.lit(HUBSPOT_PIPELINE).alias("Pipeline"),
        stage.alias("Deal Stage"),
        pl.col("close_value").alias("Amount"),
        pl.coalesce(
            pl.col("closed_at").dt.strftime(timestamp),
            pl.col("expected_close_date").dt.strftime("%Y-%m-%d"),
        ).alias("Close Date"),
        pl.col("engage_date").dt.strftime(timestamp).alias("Create Date"),
        pl.col("sales_agent").alias("Deal owner"),
        pl.col("deal_type").alias("Deal Type"),
        pl.col("lead_source").alias("Original Traffic Source"),
        pl.col("account").alias("Associated Company"),
        pl.col("last_modified").dt.strftime(timestamp).alias("Last Modified Date"),
        (_sf_probability(pl.col("deal_stage")) / 100).alias("Deal probability"),
        (pl.col("status") == "won").cast(pl.String).alias("Is Closed Won"),
        pl.col("forecast_category")
        .replace_strict(HUBSPOT_FORECAST_CATEGORY)
        .alias("Forecast category"),
        pl.col("activity_count").alias("Number of Sales Activities"),
        pl.col("opportunity_id"),
    )
    deals = deals.join(_hubspot_stage_dates(pipeline), on="opportunity_id", how="left").drop(
        "opportunity_id"
    )
    path = out_dir / "hubspot-crm-exports-all-deals.csv"
    spreadsheet.write_csv(deals, path, float_precision=2)
    return [path]


def _hubspot_stage_dates(pipeline: SimulatedPipeline) -> pl.DataFrame:
    """Per deal and stage, the latest entry and its exit (the next change after it)."""
    history = pipeline.stage_history.with_columns(
        pl.col("changed_at").shift(-1).over("opportunity_id").alias("exited_at"),
        pl.col("stage").replace({WON_STAGE: CLOSED_WON, LOST_STAGE: CLOSED_LOST}),
    )
    latest = history.group_by("opportunity_id", "stage").agg(
        pl.col("changed_at").max().alias("entered"),
        pl.col("exited_at").sort_by("changed_at").last().alias("exited"),
    )
    frames = []
    for stage in (*OPEN_STAGES, CLOSED_WON, CLOSED_LOST):
        label = f"{stage} ({HUBSPOT_PIPELINE})"
        frames.append(
            latest.filter(pl.col("stage") == stage).select(
                "opportunity_id",
                pl.col("entered").dt.strftime(TIMESTAMP_FORMAT).alias(f'Date entered "{label}"'),
                pl.col("exited").dt.strftime(TIMESTAMP_FORMAT).alias(f'Date exited "{label}"'),
            )
        )
    wide = pipeline.deals.select("opportunity_id")
    for frame in frames:
        wide = wide.join(frame, on="opportunity_id", how="left")
    return wide


def write_pipedrive_it(pipeline: SimulatedPipeline, out_dir: Path) -> list[Path]:
    """A Pipedrive deals export in Italian locale, plus the deal flow of every deal."""
    facts = deal_facts(pipeline)
    out_dir.mkdir(parents=True, exist_ok=True)
    status = pl.col("status").replace_strict({"open": "Aperta", "won": "Vinta", "lost": "Persa"})
    closed_at = pl.col("closed_at").dt.strftime(IT_TIMESTAMP)
    deals = facts.with_columns(
        status.alias("Trattativa - Stato"),
    ).select(
        pl.col("number").alias("Trattativa - ID"),
        pl.col("opportunity_name").alias("Trattativa - Titolo"),
        _decimal_comma(pl.col("close_value")).alias("Trattativa - Valore"),
        pl.lit("EUR").alias("Trattativa - Valuta"),
        pl.lit("Pipeline di vendita").alias("Trattativa - Pipeline"),
        pl.col("last_open_stage").replace_strict(ITALIAN_STAGES).alias("Trattativa - Fase"),
        pl.col("Trattativa - Stato"),
        pl.col("sales_agent").alias("Trattativa - Proprietario"),
        pl.col("account").alias("Trattativa - Organizzazione"),
        pl.col("engage_date").dt.strftime(IT_TIMESTAMP).alias("Trattativa - Trattativa creata"),
        pl.when(pl.col("open_entries") > 1)
        .then(pl.col("last_open_entered_at").dt.strftime(IT_TIMESTAMP))
        .alias("Trattativa - Ultimo cambio di fase"),
        pl.when(pl.col("status") == "won").then(closed_at).alias("Trattativa - Data di vincita"),
        pl.when(pl.col("status") == "lost").then(closed_at).alias("Trattativa - Data di perdita"),
        closed_at.alias("Trattativa - Chiusa il"),
        pl.col("expected_close_date")
        .dt.strftime(IT_DATE)
        .alias("Trattativa - Data di chiusura prevista"),
        pl.col("last_modified")
        .dt.strftime(IT_TIMESTAMP)
        .alias("Trattativa - Ora di aggiornamento"),
        pl.col("lead_source").alias("Trattativa - Canale di origine"),
        pl.col("activity_count").alias("Trattativa - Attività completate"),
    )
    offset = 10 ** (len(str(facts.height)) + 1)
    deleted = deals.filter(pl.col("Trattativa - ID") % DELETED_EVERY == 0).with_columns(
        (pl.col("Trattativa - ID") + offset).alias("Trattativa - ID"),
        pl.lit("Eliminata").alias("Trattativa - Stato"),
    )
    deals_path, flow_path = out_dir / "trattative.csv", out_dir / "flusso_trattative.csv"
    csv_text = spreadsheet.write_csv(pl.concat([deals, deleted]), separator=";") or ""
    deals_path.write_text(csv_text, encoding="utf-8-sig")  # Excel opens a BOM file as UTF-8
    spreadsheet.write_csv(_pipedrive_flow(pipeline, facts), flow_path)
    return [deals_path, flow_path]


def _decimal_comma(value: pl.Expr) -> pl.Expr:
    """12345.6 -> '12.345,60': Italian thousands dots and decimal comma."""
    cents = (value * 100).round(0).cast(pl.Int64)
    units = (cents // 100).cast(pl.String)
    grouped = units.str.reverse().str.replace_all(r"(\d{3})", "$1.").str.reverse()
    return grouped.str.strip_chars_start(".") + "," + (cents % 100).cast(pl.String).str.zfill(2)


def _pipedrive_flow(pipeline: SimulatedPipeline, facts: pl.DataFrame) -> pl.DataFrame:
    """Deal flow rows: every stage change between open stages, and the won/lost status change."""
    stage_ids = {stage: str(i) for i, stage in enumerate(OPEN_STAGES, start=1)}
    history = pipeline.stage_history.join(
        facts.select("opportunity_id", "number"), on="opportunity_id"
    ).with_columns(pl.col("stage").shift(1).over("opportunity_id").alias("previous"))
    moves = history.filter(pl.col("stage").is_in(OPEN_STAGES) & pl.col("previous").is_not_null())
    closes = history.filter(~pl.col("stage").is_in(OPEN_STAGES))
    stage_rows = moves.select(
        pl.col("number").alias("item_id"),
        pl.lit("stage_id").alias("field_key"),
        pl.col("previous").replace_strict(stage_ids).alias("old_value"),
        pl.col("stage").replace_strict(stage_ids).alias("new_value"),
        pl.col("previous").replace_strict(ITALIAN_STAGES).alias("old_value_formatted"),
        pl.col("stage").replace_strict(ITALIAN_STAGES).alias("new_value_formatted"),
        pl.col("changed_at").alias("log_time"),
    )
    status_rows = closes.select(
        pl.col("number").alias("item_id"),
        pl.lit("status").alias("field_key"),
        pl.lit("open").alias("old_value"),
        pl.col("stage").replace_strict({WON_STAGE: "won", LOST_STAGE: "lost"}).alias("new_value"),
        pl.lit(None, dtype=pl.String).alias("old_value_formatted"),
        pl.lit(None, dtype=pl.String).alias("new_value_formatted"),
        pl.col("changed_at").alias("log_time"),
    )
    return (
        pl.concat([stage_rows, status_rows])
        .sort("item_id", "log_time")
        .with_columns(pl.col("log_time").dt.strftime(TIMESTAMP_FORMAT))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline_analytics.sample.renderings",
        description="Write the simulated pipeline as Salesforce, HubSpot and Pipedrive exports.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder (one subfolder each)")
    parser.add_argument("--deals", type=int, default=1000, help="number of deals (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args(argv)
    pipeline = simulate(args.deals, args.seed)
    for name in RENDERINGS:
        for path in write_rendering(name, pipeline, args.out):
            print(path)


if __name__ == "__main__":
    main()
