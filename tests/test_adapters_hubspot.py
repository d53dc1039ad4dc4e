"""The HubSpot adapter: labels or internal names, per-stage dates, pipelines, money."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapter_fixtures import adapter_config, batches, ingest, query, write_csv
from tests.conftest import write

LABELS_HEADER = [
    "Record ID", "Deal Name", "Pipeline", "Deal Stage", "Amount", "Amount in company currency",
    "Currency", "Close Date", "Create Date", "Deal owner", "Deal probability",
    "Number of Sales Activities",
    'Date entered "Appointment Scheduled (Sales Pipeline)"',
    'Date entered "Qualified To Buy (Sales Pipeline)"',
    'Date entered "Closed Won (Sales Pipeline)"',
    "Date entered 'Qualified To Buy (Sales Pipeline)'",  # the legacy family
    'Date entered "Demo (EMEA) (Partner Pipeline)"',
    'Date entered "Closed Lost (Partner Pipeline)"',
    'Date exited "Appointment Scheduled (Sales Pipeline)"',
]  # fmt: skip
LABELS_ROWS = [
    ["101", "Acme", "Sales Pipeline", "Closed Won", "1000", "1000", "USD", "2024-03-01 12:00",
     "2024-01-01 09:00", "Ann", "1", "4", "2024-01-01 09:00", "2024-01-20 10:00",
     "2024-03-01 12:00", "2024-01-20 10:00", "", "", "2024-01-20 10:00"],
    ["102", "Beta", "Partner Pipeline", "Closed Lost", "500", "550", "EUR", "2024-02-10 08:00",
     "2024-01-05 09:00", "Bob", "0", "2", "", "", "", "", "2024-01-05 09:00",
     "2024-02-10 08:00", ""],
    ["103", "Gamma", "Sales Pipeline", "Qualified To Buy", "800", "800", "USD", "2024-06-30",
     "2024-02-01 09:00", "Ann", "0.4", "1", "2024-02-01 09:00", "", "", "2024-02-15 11:00", "",
     "", "2024-02-15 11:00"],
]  # fmt: skip
LABEL_STAGES = ["Appointment Scheduled", "Qualified To Buy", "Demo (EMEA)"]


def test_labels_export_with_stage_dates_pipelines_and_company_currency(tmp_path: Path) -> None:
    write_csv(tmp_path / "deals.csv", LABELS_HEADER, LABELS_ROWS)
    adapter_config(tmp_path, "hubspot", "deals.csv", LABEL_STAGES)
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, pipeline, status, amount, currency, amount_base, probability, "
        "activity_count, closed_at::varchar, expected_close_date::varchar from deals order by 1",
    ) == [
        (
            "101",
            "Sales Pipeline",
            "won",
            1000.0,
            "USD",
            1000.0,
            1.0,
            4,
            "2024-03-01 12:00:00",
            None,
        ),
        # No EUR rate configured: HubSpot's own conversion (company currency) is the base amount.
        (
            "102",
            "Partner Pipeline",
            "lost",
            500.0,
            "EUR",
            550.0,
            0.0,
            2,
            "2024-02-10 08:00:00",
            None,
        ),
        ("103", "Sales Pipeline", "open", 800.0, "USD", 800.0, 0.4, 1, None, "2024-06-30"),
    ]
    assert query(
        tmp_path,
        "select deal_id, stage, stage_order, entered_at::varchar, exited_at::varchar, origin "
        "from deal_stage_events order by deal_id, entered_at",
    ) == [
        ("101", "Appointment Scheduled", 1, "2024-01-01 09:00:00", "2024-01-20 10:00:00",
         "stage_dates"),
        ("101", "Qualified To Buy", 2, "2024-01-20 10:00:00", "2024-03-01 12:00:00",
         "stage_dates"),
        ("101", "Closed Won", None, "2024-03-01 12:00:00", None, "stage_dates"),
        # A stage label with parentheses: the last (...) is the pipeline.
        ("102", "Demo (EMEA)", 3, "2024-01-05 09:00:00", "2024-02-10 08:00:00", "stage_dates"),
        ("102", "Closed Lost", None, "2024-02-10 08:00:00", None, "stage_dates"),
        # Only the legacy single-quoted column has Qualified To Buy for this deal.
        ("103", "Appointment Scheduled", 1, "2024-02-01 09:00:00", "2024-02-15 11:00:00",
         "stage_dates"),
        ("103", "Qualified To Buy", 2, "2024-02-15 11:00:00", None, "stage_dates"),
    ]  # fmt: skip
    assert batches(tmp_path) == [("deals.csv", "deals", 3, 3, 0, 0)]


# Internal names, epoch milliseconds (legacy API exports), default pipeline and stage ids.
# 1704067200000 = 2024-01-01, 1706745600000 = 2024-02-01, 1707523200000 = 2024-02-10,
# 1708214400000 = 2024-02-18, 1719792000000 = 2024-07-01 (all 00:00 UTC).
INTERNAL_EXPORT = """
hs_object_id,dealname,pipeline,dealstage,amount,closedate,createdate,hs_is_closed_won,hs_v2_date_entered_appointmentscheduled,hs_v2_date_entered_qualifiedtobuy,hs_v2_date_entered_presentationscheduled
201,Delta,default,presentationscheduled,300,1719792000000,1704067200000,false,1704067200000,1706745600000,1708214400000
202,Echo,default,qualifiedtobuy,400,1719792000000,1704067200000,false,1707523200000,1708214400000,
"""


@pytest.mark.slow
def test_internal_names_epoch_dates_and_only_the_latest_stint_per_stage(tmp_path: Path) -> None:
    write(tmp_path / "deals.csv", INTERNAL_EXPORT)
    adapter_config(
        tmp_path,
        "hubspot",
        "deals.csv",
        ["Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled"],
    )
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, pipeline, stage, stage_order, created_at::varchar, "
        "expected_close_date::varchar from deals order by 1",
    ) == [
        ("201", "Sales Pipeline", "Presentation Scheduled", 3, "2024-01-01 00:00:00", "2024-07-01"),
        ("202", "Sales Pipeline", "Qualified To Buy", 2, "2024-01-01 00:00:00", "2024-07-01"),
    ]
    # Deal 202 went Appointment -> Qualified -> Appointment (02-10) -> Qualified (02-18); HubSpot
    # kept only the latest entry of each stage, so its first two stints are gone.
    assert query(
        tmp_path,
        "select stage, entered_at::date::varchar, exited_at::date::varchar from deal_stage_events "
        "where deal_id = '202' order by entered_at",
    ) == [
        ("Appointment Scheduled", "2024-02-10", "2024-02-18"),
        ("Qualified To Buy", "2024-02-18", None),
    ]


def test_italian_labels_load_without_mapping(tmp_path: Path) -> None:
    write(
        tmp_path / "trattative.csv",
        """
        ID record;Nome trattativa;Fase della trattativa;Importo;Data di creazione;Data di chiusura
        301;Rossi;Chiuso vinto;1.500,00;10/01/2024 09:30;28/02/2024 17:00
        302;Verdi;Qualificata;2.750,50;15/01/2024 10:00;30/04/2024
        """,
    )
    adapter_config(tmp_path, "hubspot", "trattative.csv", ["Qualificata"], currency="EUR")
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, name, status, amount, closed_at::varchar, expected_close_date::varchar "
        "from deals order by 1",
    ) == [
        ("301", "Rossi", "won", 1500.0, "2024-02-28 17:00:00", None),
        ("302", "Verdi", "open", 2750.5, None, "2024-04-30"),
    ]
