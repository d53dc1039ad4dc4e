"""Inference at ingest: each rule on a tiny hand-built export with a config of adapter and path.

Column mapping from headers, won/lost from a status column or stage names, the reporting
currency, and the stage order from the CRM's stage table, its default list, the stage history,
the probability per stage and the deal age; explicit config wins over each.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline_analytics.cli import main
from tests.adapter_fixtures import query
from tests.conftest import run_cli, write

MINIMAL = """
[[sources]]
name = "crm"
adapter = "{adapter}"
path = "{path}"
{extra}
"""


def minimal_config(folder: Path, path: str, adapter: str = "generic", extra: str = "") -> None:
    write(folder / "p.toml", MINIMAL.format(adapter=adapter, path=path, extra=extra))


def ingested(folder: Path) -> Path:
    assert run_cli(folder, "ingest") == 0
    return folder


def inferred(folder: Path, setting: str, source: str = "crm") -> tuple[str, str]:
    rows = query(
        folder,
        "select value, basis from inferred_settings where source = ? and setting = ?",
        [source, setting],
    )
    assert len(rows) == 1, (setting, rows)
    return rows[0]


def open_stages(folder: Path) -> list[tuple[str, str]]:
    return query(
        folder, "select stage, basis from stages where stage_order is not null order by stage_order"
    )


def statuses(folder: Path) -> dict[str, str]:
    return dict(query(folder, "select deal_id, status from deals"))


@pytest.mark.slow
def test_generic_mapping_from_english_headers(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        Deal ID,Deal Name,Stage,Amount,Owner,Created,Close Date
        D1,Acme,Prospecting,100,Ann,2024-01-02,
        D2,Beta,Closed Won,250,Bob,2024-01-03,2024-02-01
        D3,Gamma,Closed Lost,40,Ann,2024-01-04,2024-02-02
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    ingested(tmp_path)
    assert query(tmp_path, "select deal_id, name, owner, amount, status from deals order by 1") == [
        ("D1", "Acme", "Ann", 100.0, "open"),
        ("D2", "Beta", "Bob", 250.0, "won"),
        ("D3", "Gamma", "Ann", 40.0, "lost"),
    ]
    assert inferred(tmp_path, "columns.deal_id") == ("Deal ID", "header 'Deal ID'")
    assert inferred(tmp_path, "columns.created_at")[0] == "Created"
    assert inferred(tmp_path, "columns.closed_at")[0] == "Close Date"
    assert inferred(tmp_path, "status.won") == ('["Closed Won"]', "stage name")
    assert inferred(tmp_path, "status.lost") == ('["Closed Lost"]', "stage name")


@pytest.mark.slow
def test_generic_mapping_from_italian_headers_and_a_status_column(tmp_path: Path) -> None:
    write(
        tmp_path / "trattative.csv",
        """
        ID opportunità;Nome trattativa;Fase;Importo;Titolare;Data creazione;Data chiusura;Stato
        T1;Alfa;Proposta;100;Anna;2024-01-02;;Aperto
        T2;Beta;Proposta;200;Bruno;2024-01-03;2024-02-01;Vinto
        T3;Gamma;Contatto;300;Anna;2024-01-04;2024-02-02;Perso
        """,
    )
    minimal_config(tmp_path, "trattative.csv")
    ingested(tmp_path)
    assert statuses(tmp_path) == {"T1": "open", "T2": "won", "T3": "lost"}
    assert query(tmp_path, "select owner, amount from deals where deal_id = 'T2'") == [
        ("Bruno", 200.0)
    ]
    assert inferred(tmp_path, "columns.stage")[0] == "Fase"
    assert inferred(tmp_path, "columns.status")[0] == "Stato"
    assert inferred(tmp_path, "status.won") == ('["Vinto"]', "status column")
    # Lost deals keep the stage they were lost at: both stages stay open stages.
    assert {s for s, _ in open_stages(tmp_path)} == {"Proposta", "Contatto"}


@pytest.mark.slow
def test_configured_columns_win_over_aliases(tmp_path: Path) -> None:
    # "Owner" is an owner alias, but the config gives it to `account`; the owner is "Rep".
    write(
        tmp_path / "deals.csv",
        """
        id,stage,created_at,Owner,Rep
        D1,Won,2024-01-02,Acme,Ann
        D2,Lost,2024-01-03,Beta,Bob
        """,
    )
    minimal_config(
        tmp_path, "deals.csv", extra='[sources.columns]\naccount = "Owner"\nowner = "Rep"'
    )
    ingested(tmp_path)
    assert query(tmp_path, "select deal_id, account, owner from deals order by 1") == [
        ("D1", "Acme", "Ann"),
        ("D2", "Beta", "Bob"),
    ]
    settings = [r[0] for r in query(tmp_path, "select setting from inferred_settings")]
    assert "columns.owner" not in settings and "columns.account" not in settings


@pytest.mark.slow
@pytest.mark.parametrize(
    ("won", "lost"),
    [
        ("Ganado", "Perdido"),
        ("Gagné", "Perdu"),
        ("Gewonnen", "Verloren"),
        ("Chiuso vinto", "Chiuso perso"),
        ("Chiusa vinta", "Chiusa persa"),
        ("Vinto", "Perso"),
        ("closedwon", "closedlost"),
        ("Won", "Lost"),
    ],
)
def test_won_and_lost_from_stage_names(tmp_path: Path, won: str, lost: str) -> None:
    write(
        tmp_path / "deals.csv",
        f"""
        deal_id,stage,created_at
        D1,Demo,2024-01-02
        D2,{won},2024-01-03
        D3,{lost},2024-01-04
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    ingested(tmp_path)
    assert statuses(tmp_path) == {"D1": "open", "D2": "won", "D3": "lost"}
    assert query(tmp_path, "select stage, is_won, is_lost, basis from stages order by 1") == sorted(
        [("Demo", False, False, "guess"), (won, True, False, "stage name"),
         (lost, False, True, "stage name")]
    )  # fmt: skip


@pytest.mark.slow
def test_nothing_marks_won_or_lost_is_said_not_silently_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at
        D1,Demo,2024-01-02
        D2,Trial,2024-01-03
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    with caplog.at_level(logging.WARNING):
        ingested(tmp_path)
    assert statuses(tmp_path) == {"D1": "open", "D2": "open"}
    assert inferred(tmp_path, "status.won") == ("[]", "no value says it")
    assert any("every deal counts as open" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_configured_status_wins_over_stage_names(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at
        D1,Won,2024-01-02
        D2,Signed,2024-01-03
        D3,Dropped,2024-01-04
        """,
    )
    minimal_config(
        tmp_path, "deals.csv", extra='[sources.status]\nwon = ["Signed"]\nlost = ["Dropped"]'
    )
    ingested(tmp_path)
    # "Won" is only a stage name here: the config says what is won.
    assert statuses(tmp_path) == {"D1": "open", "D2": "won", "D3": "lost"}
    assert query(tmp_path, "select basis from stages where stage = 'Signed'") == [("config",)]


SALESFORCE_DEALS = """
Id,Name,StageName,CreatedDate,IsClosed,IsWon,Amount
006A,Acme,Build,2024-01-02 10:00:00,0,0,100
006B,Beta,Align,2024-01-03 10:00:00,0,0,200
006C,Gamma,Sign,2024-01-04 10:00:00,0,0,300
006D,Delta,Signed,2024-01-05 10:00:00,1,1,400
"""


@pytest.mark.slow
def test_stage_order_from_the_crm_stage_table(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "Opportunity.csv", SALESFORCE_DEALS)
    write(
        folder / "OpportunityStage.csv",
        """
        ApiName,SortOrder,IsClosed,IsWon,IsActive
        Align,1,0,0,1
        Build,2,0,0,1
        Sign,3,0,0,1
        Signed,4,1,1,1
        """,
    )
    minimal_config(tmp_path, "export", adapter="salesforce")
    ingested(tmp_path)
    assert open_stages(tmp_path) == [
        ("Align", "crm stage table"),
        ("Build", "crm stage table"),
        ("Sign", "crm stage table"),
    ]
    assert query(tmp_path, "select is_won, basis from stages where stage = 'Signed'") == [
        (True, "crm stage table")
    ]
    assert statuses(tmp_path)["006D"] == "won"


@pytest.mark.slow
def test_stage_order_from_the_crm_default_list(tmp_path: Path) -> None:
    write(
        tmp_path / "Opportunity.csv",
        """
        Id,Name,StageName,CreatedDate,IsClosed,IsWon
        006A,Acme,Value Proposition,2024-01-02 10:00:00,0,0
        006B,Beta,Prospecting,2024-01-03 10:00:00,0,0
        006C,Gamma,Negotiation/Review,2024-01-04 10:00:00,0,0
        006D,Delta,Closed Won,2024-01-05 10:00:00,1,1
        """,
    )
    minimal_config(tmp_path, "Opportunity.csv", adapter="salesforce")
    ingested(tmp_path)
    assert open_stages(tmp_path) == [
        ("Prospecting", "crm default list"),
        ("Value Proposition", "crm default list"),
        ("Negotiation/Review", "crm default list"),
    ]
    assert inferred(tmp_path, "stages.default", source="*") == (
        '["Prospecting", "Value Proposition", "Negotiation/Review"]',
        "crm default list",
    )


@pytest.mark.slow
def test_hubspot_internal_stage_ids_give_won_lost_and_the_default_order(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        hs_object_id,dealname,dealstage,createdate,amount
        1,Acme,contractsent,2024-01-02,10
        2,Beta,appointmentscheduled,2024-01-03,20
        3,Gamma,closedwon,2024-01-04,30
        4,Delta,closedlost,2024-01-05,40
        """,
    )
    minimal_config(tmp_path, "deals.csv", adapter="hubspot")
    ingested(tmp_path)
    assert statuses(tmp_path) == {"1": "open", "2": "open", "3": "won", "4": "lost"}
    assert open_stages(tmp_path) == [
        ("Appointment Scheduled", "crm default list"),
        ("Contract Sent", "crm default list"),
    ]


@pytest.mark.slow
def test_stage_order_from_history_transitions(tmp_path: Path) -> None:
    # Names sort against the funnel: Zeta comes first, then Mid, then Alpha.
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at
        D1,Alpha,2024-01-01
        D2,Mid,2024-01-01
        D3,Won,2024-01-01
        """,
    )
    write(
        tmp_path / "history.csv",
        """
        deal_id,stage,changed_at
        D1,Zeta,2024-01-01
        D1,Mid,2024-01-05
        D1,Alpha,2024-01-09
        D2,Zeta,2024-01-01
        D2,Mid,2024-01-03
        D3,Zeta,2024-01-01
        D3,Alpha,2024-01-02
        D3,Won,2024-01-04
        """,
    )
    minimal_config(tmp_path, "deals.csv", extra='history = "history.csv"')
    ingested(tmp_path)
    assert open_stages(tmp_path) == [
        ("Zeta", "history transitions"),
        ("Mid", "history transitions"),
        ("Alpha", "history transitions"),
    ]
    # The stage events carry the inferred order, too.
    assert query(
        tmp_path, "select stage, stage_order from deal_stage_events where deal_id = 'D1' order by 2"
    ) == [("Zeta", 1), ("Mid", 2), ("Alpha", 3)]


@pytest.mark.slow
def test_stage_order_from_probability(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at,probability
        D1,Alpha,2024-01-01,80
        D2,Zeta,2024-01-01,20
        D3,Mid,2024-01-01,50
        D4,Zeta,2024-01-01,20
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    ingested(tmp_path)
    assert open_stages(tmp_path) == [
        ("Zeta", "probability"),
        ("Mid", "probability"),
        ("Alpha", "probability"),
    ]


@pytest.mark.slow
def test_stage_order_from_deal_age_is_a_guess_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No history, no probability: older open deals are taken to be further along.
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at,updated_at
        D1,Alpha,2024-03-01,2024-03-31
        D2,Zeta,2024-01-01,2024-03-31
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    with caplog.at_level(logging.WARNING):
        ingested(tmp_path)
    assert open_stages(tmp_path) == [("Alpha", "deal age"), ("Zeta", "deal age")]
    assert any("cannot be decided from the data" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_deals_not_yet_engaged_put_their_stage_first(tmp_path: Path) -> None:
    # Exports leave the creation (engage) date empty until a deal is engaged: such deals count as
    # age 0, so "Prospecting" (no dates) comes before "Engaging" although "E" sorts first.
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at,updated_at
        D1,Engaging,2024-03-01,2024-03-31
        D2,Prospecting,,2024-03-31
        D3,Prospecting,,2024-03-31
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    ingested(tmp_path)
    assert open_stages(tmp_path) == [("Prospecting", "deal age"), ("Engaging", "deal age")]


@pytest.mark.slow
def test_one_stage_cannot_be_ordered_and_is_a_guess(tmp_path: Path) -> None:
    write(tmp_path / "deals.csv", "deal_id,stage,created_at\nD1,Demo,2024-01-02\n")
    minimal_config(tmp_path, "deals.csv")
    ingested(tmp_path)
    assert open_stages(tmp_path) == [("Demo", "guess")]


@pytest.mark.slow
def test_a_changed_config_order_reorders_deals_loaded_before(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        "deal_id,stage,created_at\nD1,Alpha,2024-01-02\nD2,Beta,2024-01-03\n",
    )
    config = 'name = "crm"\nadapter = "generic"\npath = "deals.csv"\n'
    write(tmp_path / "p.toml", f'[[sources]]\n{config}[pipeline]\nstages = ["Alpha", "Beta"]\n')
    ingested(tmp_path)
    write(tmp_path / "p.toml", f'[[sources]]\n{config}[pipeline]\nstages = ["Beta", "Alpha"]\n')
    ingested(tmp_path)  # no new file: only the order changed
    assert query(tmp_path, "select deal_id, stage_order from deals order by 1") == [
        ("D1", 2),
        ("D2", 1),
    ]
    assert query(tmp_path, "select deal_id, stage_order from deal_stage_events order by 1") == [
        ("D1", 2),
        ("D2", 1),
    ]
    assert {b for _, b in open_stages(tmp_path)} == {"config"}


@pytest.mark.slow
def test_reporting_currency_is_the_most_common_one_named(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        deal_id,stage,created_at,amount
        D1,Won,2024-01-02,€100
        D2,Won,2024-01-03,€200
        D3,Lost,2024-01-04,GBP 50
        """,
    )
    minimal_config(tmp_path, "deals.csv")
    ingested(tmp_path)
    assert inferred(tmp_path, "pipeline.currency", source="*") == (
        "EUR",
        "most common currency of the deals (the amounts)",
    )
    # EUR deals are priced in EUR; GBP has no rate, so it stays out of totals.
    assert query(tmp_path, "select deal_id, currency, amount_base from deals order by 1") == [
        ("D1", "EUR", 100.0),
        ("D2", "EUR", 200.0),
        ("D3", "GBP", None),
    ]
    assert run_cli(tmp_path, "build") == 0
    assert query(tmp_path, "select currency from build_params") == [("EUR",)]


@pytest.mark.slow
def test_no_currency_named_is_assumed_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "deals.csv", "deal_id,stage,created_at,amount\nD1,Won,2024-01-02,100\n")
    minimal_config(tmp_path, "deals.csv")
    with caplog.at_level(logging.WARNING):
        ingested(tmp_path)
    assert inferred(tmp_path, "pipeline.currency", source="*") == (
        "USD",
        "assumed: the export names no currency",
    )
    assert query(tmp_path, "select currency, amount_base from deals") == [("USD", 100.0)]
    assert any("names no currency" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_configured_currency_is_not_inferred(tmp_path: Path) -> None:
    write(tmp_path / "deals.csv", "deal_id,stage,created_at,amount\nD1,Won,2024-01-02,€100\n")
    write(
        tmp_path / "p.toml",
        '[[sources]]\nname = "crm"\nadapter = "generic"\npath = "deals.csv"\n'
        '[pipeline]\ncurrency = "EUR"\n',
    )
    ingested(tmp_path)
    assert query(tmp_path, "select count(*) from inferred_settings where setting like 'pipe%'") == [
        (0,)
    ]


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[sources.status]\nwon = ["Won"]', "sources[0].status"),
        ("[pipeline]\nstages = []", "pipeline.stages"),
        ("[pipeline]\nprobabilities = [0.5]", "pipeline.probabilities"),
    ],
)
def test_what_is_given_is_still_checked_strictly(
    tmp_path: Path, extra: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "deals.csv", "deal_id,stage,created_at\nD1,Won,2024-01-02\n")
    minimal_config(tmp_path, "deals.csv", extra=extra)
    assert main(["--config", str(tmp_path / "p.toml"), "ingest"]) == 2
    assert f"'{key}" in capsys.readouterr().err


@pytest.mark.slow
def test_history_file_mapping_from_its_headers(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        "Opportunity ID,Stage,Created Date\nD1,Proposal,2024-01-01\nD2,Demo,2024-01-01\n",
    )
    write(
        tmp_path / "history.csv",
        """
        Opportunity ID,To Stage,Edit Date
        D1,Demo,2024-01-02
        D1,Proposal,2024-01-05
        D2,Demo,2024-01-03
        """,
    )
    minimal_config(tmp_path, "deals.csv", extra='history = "history.csv"')
    ingested(tmp_path)
    assert inferred(tmp_path, "history_columns.stage") == ("To Stage", "header 'To Stage'")
    assert inferred(tmp_path, "history_columns.changed_at")[0] == "Edit Date"
    assert open_stages(tmp_path) == [
        ("Demo", "history transitions"),
        ("Proposal", "history transitions"),
    ]


@pytest.mark.slow
def test_hubspot_renamed_closing_stages_are_known_by_probability(tmp_path: Path) -> None:
    write(
        tmp_path / "deals.csv",
        """
        Record ID,Deal Name,Deal Stage,Create Date,Deal probability
        1,Acme,Demo,2024-01-02,0.3
        2,Beta,Signed,2024-01-03,1
        3,Gamma,Dropped,2024-01-04,0
        4,Delta,Offer,2024-01-05,0.6
        """,
    )
    minimal_config(tmp_path, "deals.csv", adapter="hubspot")
    ingested(tmp_path)
    assert statuses(tmp_path) == {"1": "open", "2": "won", "3": "lost", "4": "open"}
    assert open_stages(tmp_path) == [("Demo", "probability"), ("Offer", "probability")]
