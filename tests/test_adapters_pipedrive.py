"""The Pipedrive adapter: localized deals exports, deleted deals, the deal flow, snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.adapter_fixtures import adapter_config, batches, ingest, query
from tests.conftest import write

pytestmark = pytest.mark.slow

ITALIAN_EXPORT = """
Trattativa - ID;Trattativa - Titolo;Trattativa - Valore;Trattativa - Valuta;Trattativa - Fase;Trattativa - Stato;Trattativa - Proprietario;Trattativa - Trattativa creata;Trattativa - Data di vincita;Trattativa - Data di perdita;Trattativa - Chiusa il;Trattativa - Data di chiusura prevista;Trattativa - Ultimo cambio di fase;Trattativa - Probabilità
1;Rossi;12.345,67;EUR;Proposta;Vinta;Giulia;03/01/2024 09:00:00;15/02/2024 16:30:00;;15/02/2024 16:30:00;;20/01/2024 10:00:00;
2;Verdi;800,00;EUR;Qualificazione;Persa;Marco;10/01/2024 11:00:00;;25/01/2024 12:00:00;25/01/2024 12:00:00;;;
3;Bianchi;1.000,00;EUR;Proposta;Aperta;Giulia;12/01/2024 08:00:00;;;;30/03/2024;01/02/2024 14:00:00;60
4;Neri;50,00;EUR;Primo contatto;Eliminata;Marco;13/01/2024 08:00:00;;;;;;
"""  # noqa: E501
ITALIAN_STAGES = ["Primo contatto", "Qualificazione", "Proposta"]


def test_italian_export_with_decimal_comma_dates_and_a_deleted_deal(tmp_path: Path) -> None:
    write(tmp_path / "trattative.csv", ITALIAN_EXPORT, encoding="utf-8-sig")
    adapter_config(tmp_path, "pipedrive", "trattative.csv", ITALIAN_STAGES, currency="EUR")
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, stage, stage_order, status, amount, probability, "
        "closed_at::varchar, expected_close_date::varchar from deals order by 1",
    ) == [
        # A won or lost deal keeps its stage; it closed at its won or lost time.
        ("1", "Proposta", 3, "won", 12345.67, None, "2024-02-15 16:30:00", None),
        ("2", "Qualificazione", 2, "lost", 800.0, None, "2024-01-25 12:00:00", None),
        ("3", "Proposta", 3, "open", 1000.0, 0.6, None, "2024-03-30"),
    ]
    assert batches(tmp_path) == [("trattative.csv", "deals", 4, 3, 0, 1)]  # deal 4: deleted
    # No history: one current_only event each, entered at the last stage change when known.
    assert query(
        tmp_path,
        "select deal_id, stage, entered_at::varchar, exited_at::varchar, origin "
        "from deal_stage_events order by 1",
    ) == [
        ("1", "Proposta", "2024-01-20 10:00:00", "2024-02-15 16:30:00", "current_only"),
        ("2", "Qualificazione", None, None, "current_only"),
        ("3", "Proposta", "2024-02-01 14:00:00", None, "current_only"),
    ]


ENGLISH_EXPORT = """
Deal - ID,Deal - Title,Deal - Value,Deal - Currency of Value,Deal - Stage,Deal - Status,Deal - Add time,Deal - Won time,Deal - Lost time,Deal - Close time,Deal - Expected close date
7,Acme,1500,USD,Proposal,won,2024-01-02 09:00:00,2024-02-20 15:00:00,,2024-02-20 15:00:00,2024-02-28
"""  # noqa: E501


def _change(
    number: int, field: str, old: str, new: str, at: str, labels: tuple[str, str] | None = None
) -> dict:
    formatted = (
        {"old_value_formatted": labels[0], "new_value_formatted": labels[1]} if labels else None
    )
    data = {
        "id": number,
        "item_id": 7,
        "field_key": field,
        "old_value": old,
        "new_value": new,
        "log_time": at,
        "additional_data": formatted,
    }
    return {"object": "dealChange", "timestamp": at, "data": data}


FLOW = {
    "success": True,
    "data": [
        _change(1, "stage_id", "1", "2", "2024-01-10 10:00:00", ("Lead", "Qualified")),
        _change(2, "value", "1000", "1500", "2024-01-15 10:00:00"),
        _change(3, "expected_close_date", "2024-02-01", "2024-02-28", "2024-01-20 10:00:00"),
        _change(4, "stage_id", "2", "3", "2024-01-25 10:00:00", ("Qualified", "Proposal")),
        _change(5, "status", "open", "won", "2024-02-20 15:00:00"),
        {"object": "activity", "timestamp": "2024-01-11 09:00:00", "data": {"id": 9}},
    ],
}


def test_deal_flow_json_gives_full_history_and_edits(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    write(export / "deals.csv", ENGLISH_EXPORT)
    (export / "flow_7.json").write_text(json.dumps(FLOW), encoding="utf-8")
    adapter_config(tmp_path, "pipedrive", "export", ["Lead", "Qualified", "Proposal"])
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select stage, entered_at::varchar, exited_at::varchar, origin "
        "from deal_stage_events order by entered_at",
    ) == [
        # The stage left at the first change is the one the deal was created in.
        ("Lead", "2024-01-02 09:00:00", "2024-01-10 10:00:00", "history"),
        ("Qualified", "2024-01-10 10:00:00", "2024-01-25 10:00:00", "history"),
        ("Proposal", "2024-01-25 10:00:00", "2024-02-20 15:00:00", "history"),
    ]
    assert query(
        tmp_path, "select field, old_value, new_value from deal_changes order by changed_at"
    ) == [
        ("amount", "1000.0", "1500.0"),
        ("close_date", "2024-02-01", "2024-02-28"),
        ("status", "open", "won"),
    ]
    # The activity record is not a deal change: excluded, counted.
    assert batches(tmp_path) == [
        ("deals.csv", "deals", 1, 1, 0, 0),
        ("flow_7.json", "history", 6, 5, 0, 1),
    ]


WEEK_1 = """
Deal - ID,Deal - Title,Deal - Value,Deal - Stage,Deal - Status,Deal - Deal created,Deal - Last stage change,Deal - Update time
S1,A,100,Lead,open,2024-03-01 09:00:00,,2024-03-01 09:00:00
S2,B,200,Qualified,open,2024-03-02 09:00:00,2024-03-04 10:00:00,2024-03-04 10:00:00
"""  # noqa: E501
WEEK_2 = """
Deal - ID,Deal - Title,Deal - Value,Deal - Stage,Deal - Status,Deal - Deal created,Deal - Last stage change,Deal - Update time
S1,A,100,Qualified,open,2024-03-01 09:00:00,,2024-03-09 12:00:00
S2,B,200,Proposal,open,2024-03-02 09:00:00,2024-03-08 15:00:00,2024-03-08 15:00:00
"""  # noqa: E501
# Week 1 was taken at 03-04 10:00 and week 2 at 03-09 12:00 (their latest events). S1's move
# has no time in the export: it happened by week 2's snapshot, which is when it is dated.
SNAPSHOT_EVENTS = [
    ("S1", "Lead", "2024-03-01 09:00:00", "2024-03-09 12:00:00", "snapshots"),
    ("S1", "Qualified", "2024-03-09 12:00:00", None, "snapshots"),
    ("S2", "Qualified", "2024-03-04 10:00:00", "2024-03-08 15:00:00", "snapshots"),
    ("S2", "Proposal", "2024-03-08 15:00:00", None, "snapshots"),
]


def _load_weeks(folder: Path, first: str, second: str) -> list[tuple]:
    adapter_config(folder, "pipedrive", "deals.csv", ["Lead", "Qualified", "Proposal"])
    for export in (first, second):
        write(folder / "deals.csv", export)
        assert ingest(folder) == 0
    return query(
        folder,
        "select deal_id, stage, entered_at::varchar, exited_at::varchar, origin "
        "from deal_stage_events order by deal_id, entered_at",
    )


def test_weekly_exports_build_stage_history_from_snapshots(tmp_path: Path) -> None:
    in_order, reversed_order = tmp_path / "in_order", tmp_path / "reversed"
    in_order.mkdir()
    reversed_order.mkdir()
    assert _load_weeks(in_order, WEEK_1, WEEK_2) == SNAPSHOT_EVENTS
    # An older export loaded late only adds its snapshot: same events, same current state.
    assert _load_weeks(reversed_order, WEEK_2, WEEK_1) == SNAPSHOT_EVENTS
    for folder in (in_order, reversed_order):
        assert query(folder, "select deal_id, stage from deals order by 1") == [
            ("S1", "Qualified"),
            ("S2", "Proposal"),
        ]
        assert query(folder, "select count(*) from deal_snapshots") == [(4,)]
