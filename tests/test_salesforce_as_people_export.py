"""Salesforce exports as people make them: Data Loader / Workbench files, name tables, stage flags.

Data Loader and Workbench write relationship headers (`Account.Name`, `Owner.Name`) and may leave
out the Id; a Data Export folder has User.csv and Account.csv next to the opportunities, and its
opportunity rows carry the stage's sort order and flags.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from pipeline_analytics.config import Source, StatusMapping
from pipeline_analytics.ingest.adapters import source_adapter
from tests.adapter_fixtures import adapter_config, batches, ingest, query
from tests.conftest import REAL_SALESFORCE_EXPORT, write

STAGES = ["Prospecting", "Qualification"]

# A Workbench query result: relationship headers, no Id, "Gamma" on two rows (two deals).
WORKBENCH_DEALS = """
Name,Account.Name,Owner.Name,CreatedBy.Name,StageName,Amount,Probability,CloseDate,CreatedDate
Acme - New,Acme,Ann Lee,Admin,Prospecting,1000,10,2024-03-28,2024-03-01 09:00:00
Beta - Renewal,Beta,Bob Ray,Admin,Closed Won,2000,100,2024-03-20,2024-02-15 08:00:00
Gamma,Gamma Inc,Ann Lee,Admin,Closed Lost,500,0,2024-03-18,2024-02-01 10:00:00
Gamma,Gamma Ltd,Bob Ray,Admin,Qualification,700,20,2024-04-30,2024-02-03T10:00:00.000Z
"""

# OpportunityHistory from Data Loader, keyed on the opportunity's name.
HISTORY_BY_NAME = """
Opportunity.Name,StageName,Amount,CreatedDate
Acme - New,Prospecting,1000,2024-03-01 09:00:00
Beta - Renewal,Prospecting,2000,2024-02-15 08:00:00
Beta - Renewal,Closed Won,2000,2024-03-20 16:15:00
"""


def _export(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        write(folder / name, text)
    return folder


@pytest.mark.slow
def test_workbench_export_keys_deals_on_unique_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _export(tmp_path, {"deals.csv": WORKBENCH_DEALS, "history.csv": HISTORY_BY_NAME})
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    with caplog.at_level(logging.INFO):
        assert ingest(tmp_path) == 0
    # Both Gamma rows are deals, keyed on the name and the creation time (normalised ISO).
    assert query(
        tmp_path, "select deal_id, name, account, owner, status from deals order by 1"
    ) == [
        ("Acme - New", "Acme - New", "Acme", "Ann Lee", "open"),
        ("Beta - Renewal", "Beta - Renewal", "Beta", "Bob Ray", "won"),
        ("Gamma [2024-02-01 10:00:00]", "Gamma", "Gamma Inc", "Ann Lee", "lost"),
        ("Gamma [2024-02-03 10:00:00]", "Gamma", "Gamma Ltd", "Bob Ray", "open"),
    ]
    assert query(tmp_path, "select count(*) from rejected_rows") == [(0,)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 name(s) repeat: 'Gamma' (lines 4, 5); " in warnings[0]
    assert "creation date" in warnings[0]
    assert "(Data Loader: select Id)" in warnings[0]
    assert [b[:5] for b in batches(tmp_path)] == [
        ("deals.csv", "deals", 4, 4, 0),
        ("history.csv", "history", 3, 3, 0),
    ]
    # The history found its deals by name: Beta went Prospecting -> Closed Won.
    assert query(
        tmp_path,
        "select deal_id, stage, entered_at::varchar, exited_at::varchar "
        "from deal_stage_events where deal_id not like 'Gamma%' order by deal_id, entered_at",
    ) == [
        ("Acme - New", "Prospecting", "2024-03-01 09:00:00", None),
        ("Beta - Renewal", "Prospecting", "2024-02-15 08:00:00", "2024-03-20 16:15:00"),
        ("Beta - Renewal", "Closed Won", "2024-03-20 16:15:00", None),
    ]


def test_report_without_id_column_keys_on_name_and_still_excludes_its_total_row(
    tmp_path: Path,
) -> None:
    write(
        tmp_path / "report.csv",
        """
        "Opportunity Name","Stage","Amount","Created Date"
        "Acme - New","Prospecting","$1,200.50","3/1/2024"
        "Beta - Renewal","Closed Won","$2,000.00","2/15/2024"
        "Total","","$3,200.50",""
        """,
    )
    adapter_config(tmp_path, "salesforce", "report.csv", STAGES)
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id, status from deals order by 1") == [
        ("Acme - New", "open"),
        ("Beta - Renewal", "won"),
    ]
    assert batches(tmp_path) == [("report.csv", "deals", 3, 2, 0, 1)]


@pytest.mark.slow
def test_history_keyed_on_name_links_to_deals_with_ids(tmp_path: Path) -> None:
    """Deals carry Ids; a report-style history names the opportunity: names map to the ids."""
    _export(
        tmp_path,
        {
            "Opportunity.csv": """
                Id,Name,StageName,CreatedDate
                0061,Acme - New,Qualification,2024-03-01 09:00:00
                0062,Same,Prospecting,2024-03-02 09:00:00
                0063,Same,Prospecting,2024-03-03 09:00:00
                """,
            "history.csv": """
                Opportunity Name,To Stage,Last Modified
                Acme - New,Prospecting,2024-03-01 09:00:00
                Acme - New,Qualification,2024-03-05 10:00:00
                Same,Qualification,2024-03-06 10:00:00
                """,
        },
    )
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, stage, entered_at::varchar from deal_stage_events "
        "where deal_id = '0061' order by entered_at",
    ) == [
        ("0061", "Prospecting", "2024-03-01 09:00:00"),
        ("0061", "Qualification", "2024-03-05 10:00:00"),
    ]
    # 'Same' is the name of two deals: the row links to the one created last by its time.
    assert query(tmp_path, "select count(*) from rejected_rows") == [(0,)]
    assert query(
        tmp_path,
        "select deal_id, stage from deal_stage_events where deal_id <> '0061' order by 1",
    ) == [("0062", "Prospecting"), ("0063", "Qualification")]


# Data Loader, no Id: a yearly renewal repeats its name; one row has no creation date. Delta's two
# rows share their creation day, so the later line is told apart by its line number.
RENEWALS = """
Name,StageName,Amount,CreatedDate
Acme - Renewal,Closed Won,1000,2023-01-05
Beta,Prospecting,500,2024-02-01
Acme - Renewal,Qualification,1200,2024-01-07
Acme - Renewal,Prospecting,900,
Delta,Prospecting,300,2024-02-02
Delta,Prospecting,400,2024-02-02
"""
# History by name: before any Acme deal existed (the earliest), after the first, on the second's
# creation day and after it.
RENEWAL_HISTORY = """
OpportunityName,StageName,CreatedDate
Acme - Renewal,Prospecting,2022-12-20 09:00:00
Acme - Renewal,Closed Won,2023-02-01 10:00:00
Acme - Renewal,Prospecting,2024-01-07 00:00:00
Acme - Renewal,Qualification,2024-03-01 10:00:00
Beta,Prospecting,2024-02-01 09:00:00
"""


@pytest.mark.slow
def test_repeated_names_are_kept_keyed_on_creation_time_and_history_finds_the_deal_then(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _export(tmp_path, {"deals.csv": RENEWALS, "history.csv": RENEWAL_HISTORY})
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    with caplog.at_level(logging.INFO):
        assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id, name, amount from deals order by amount") == [
        ("Delta [2024-02-02]", "Delta", 300.0),
        ("Delta [2024-02-02] #2", "Delta", 400.0),
        ("Beta", "Beta", 500.0),
        ("Acme - Renewal [no created date]", "Acme - Renewal", 900.0),
        ("Acme - Renewal [2023-01-05]", "Acme - Renewal", 1000.0),
        ("Acme - Renewal [2024-01-07]", "Acme - Renewal", 1200.0),
    ]
    assert query(tmp_path, "select count(*) from rejected_rows") == [(0,)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert (
        "2 name(s) repeat: 'Acme - Renewal' (lines 2, 4, 5), 'Delta' (lines 6, 7); "
        in (warnings[0])
    )
    # 2022-12-20: no Acme deal yet, so the earliest; 2023-02-01: the 2023 deal; 2024-01-07 and
    # later: the 2024 deal; none goes to the deal with no creation date (its stage is its own).
    # Beta's name is unique: its row links as before.
    assert query(
        tmp_path,
        "select deal_id, stage, entered_at::varchar from deal_stage_events "
        "where deal_id not like 'Delta%' order by deal_id, entered_at",
    ) == [
        ("Acme - Renewal [2023-01-05]", "Prospecting", "2022-12-20 09:00:00"),
        ("Acme - Renewal [2023-01-05]", "Closed Won", "2023-02-01 10:00:00"),
        ("Acme - Renewal [2024-01-07]", "Prospecting", "2024-01-07 00:00:00"),
        ("Acme - Renewal [2024-01-07]", "Qualification", "2024-03-01 10:00:00"),
        ("Acme - Renewal [no created date]", "Prospecting", None),
        ("Beta", "Prospecting", "2024-02-01 09:00:00"),
    ]
    linked = [r.getMessage() for r in caplog.records if "history row(s) name" in r.getMessage()]
    assert len(linked) == 1
    assert "history.csv: 4 history row(s)" in linked[0]
    # Next week's export lists the rows in another order and has a new renewal: the dated keys
    # stay, so the deals are updated, not doubled.
    lines = RENEWALS.strip().splitlines()
    next_week = [lines[0], *reversed(lines[1:5]), "Acme - Renewal,Prospecting,1300,2025-01-09"]
    write(tmp_path / "export" / "deals.csv", "\n".join([*next_week, *lines[5:]]) + "\n")
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path, "select deal_id from deals where name = 'Acme - Renewal' order by 1"
    ) == [
        ("Acme - Renewal [2023-01-05]",),
        ("Acme - Renewal [2024-01-07]",),
        ("Acme - Renewal [2025-01-09]",),
        ("Acme - Renewal [no created date]",),
    ]
    assert query(tmp_path, "select count(*) from deals") == [(7,)]


def test_a_file_of_no_known_kind_is_a_warning_naming_what_each_kind_needs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _export(
        tmp_path,
        {
            "Opportunity.csv": "Id,StageName,CreatedDate\n0061,Prospecting,2024-03-01\n",
            "Contact.csv": "Id,FirstName,LastName,Email\n0031,Ann,Lee,ann@example.com\n",
        },
    )
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    with caplog.at_level(logging.INFO):
        assert ingest(tmp_path) == 0
    skipped = [r for r in caplog.records if "Contact.csv" in r.getMessage()]
    assert [r.levelno for r in skipped] == [logging.WARNING]
    message = skipped[0].getMessage()
    assert "not a salesforce export this adapter reads" in message
    assert "a deals file needs stage ('StageName' / 'Stage' / 'Fase')" in message
    assert "a users file needs username ('Username'" in message
    assert "a history file needs deal_id ('OpportunityId'" in message
    assert "or, with no id, opportunity_name 'OpportunityName'" in message
    assert message.endswith("skipped")
    assert [b[:2] for b in batches(tmp_path)] == [("Opportunity.csv", "deals")]


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        # Data Loader writes headers in upper case; with no ID the deal name is the key.
        (["NAME", "ACCOUNT.NAME", "OWNER.NAME", "STAGENAME", "CREATEDDATE"], "deals"),
        (["Id", "Name", "StageName", "StageSortOrder", "CreatedDate"], "deals"),
        # An OpportunityHistory query has an Id of its own; Opportunity.Name makes it history.
        (["Id", "Opportunity.Name", "StageName", "CreatedDate"], "history"),
        (["OpportunityName", "StageName", "CreatedDate"], "history"),
        (["Opportunity Name", "From Stage", "To Stage", "Last Modified"], "history"),
        (["Id", "Username", "FirstName", "LastName", "CreatedDate"], "users"),
        (["Id", "IsDeleted", "Name", "Type", "BillingStreet", "BillingCity"], "accounts"),
        # A Lead or Contact file has Id and Name but no billing address: none of ours.
        (["Id", "Name", "Company", "City", "Industry", "Status", "CreatedDate"], None),
        # No creation date is needed (deals without one load), but a deal needs a key and a stage.
        (["Id", "Opportunity_Source__c", "StageName"], "deals"),
        (["Opportunity_Source__c", "StageName", "CreatedDate"], None),
    ],
)
def test_recognition_of_people_made_files(headers: list[str], kind: str | None) -> None:
    source = Source("crm", "salesforce", Path("."), None, {}, {}, StatusMapping((), ()))
    assert source_adapter("salesforce").recognise(headers, source) == kind


def test_nearest_header_is_a_close_standard_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A custom field is not offered for a missing id; a spelling of the right name is."""
    write(
        tmp_path / "deals.csv",
        "Opportunity_Source__c,Stage_Name,CreatedDate\nWeb,Prospecting,2024-03-01\n",
    )
    adapter_config(tmp_path, "salesforce", "deals.csv", STAGES)
    assert ingest(tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "deal_id (expected a header like 'Id'" in err
    assert "nearest header: 'Opportunity_Source__c'" not in err
    assert "stage (expected a header like 'StageName' / 'Stage' / 'Fase'), nearest header: " in err
    assert "'Stage_Name'" in err


OPPORTUNITIES_WITH_IDS = """
"Id","Name","AccountId","OwnerId","StageName","CreatedDate"
"006000000000001AAA","Alpha","001000000000001AAA","005000000000001AAA","Prospecting","2024-01-01 10:00:00"
"006000000000002AAA","Bravo","001000000000002AAA","005000000000002AAA","Prospecting","2024-01-02 10:00:00"
"006000000000003AAA","Charlie","001000000000001","005000000000009AAA","Prospecting","2024-01-03 10:00:00"
"""  # noqa: E501
USERS = """
"Id","Username","FirstName","LastName","Email"
"005000000000001AAA","ann@example.com","Ann","Lee","ann@example.com"
"005000000000002AAA","bob@example.com","","Ray","bob@example.com"
"""
ACCOUNTS = """
"Id","IsDeleted","Name","BillingCity","Industry"
"001000000000001AAA","0","Acme Corp","Rome","Energy"
"001000000000002AAA","1","Gone Ltd","Milan","Energy"
"""


def test_user_and_account_files_name_owners_and_accounts_in_any_order(tmp_path: Path) -> None:
    folder = _export(tmp_path, {"Opportunity.csv": OPPORTUNITIES_WITH_IDS, "Account.csv": ACCOUNTS})
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    assert ingest(tmp_path) == 0
    # Account ids found in Account.csv show its names, also from a report's 15-character id;
    # the deleted account's row is excluded, so Bravo keeps its id. No User.csv yet: owner ids.
    assert query(tmp_path, "select deal_id[-4:], account, owner from deals order by 1") == [
        ("1AAA", "Acme Corp", "005000000000001AAA"),
        ("2AAA", "001000000000002AAA", "005000000000002AAA"),
        ("3AAA", "Acme Corp", "005000000000009AAA"),
    ]
    # User.csv arrives in a later ingest: the deals already loaded show the owners' names.
    write(folder / "User.csv", USERS)
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id[-4:], owner from deals order by 1") == [
        ("1AAA", "Ann Lee"),
        ("2AAA", "Ray"),
        ("3AAA", "005000000000009AAA"),  # not in User.csv: the id stays
    ]
    assert query(tmp_path, "select owner from deal_snapshots order by deal_id") == [
        ("Ann Lee",),
        ("Ray",),
        ("005000000000009AAA",),
    ]
    assert query(tmp_path, "select object, id, name from crm_names order by 1, 2") == [
        ("accounts", "001000000000001AAA", "Acme Corp"),
        ("users", "005000000000001AAA", "Ann Lee"),
        ("users", "005000000000002AAA", "Ray"),
    ]
    assert sorted(b[:2] for b in batches(tmp_path)) == [
        ("Account.csv", "accounts"),
        ("Opportunity.csv", "deals"),
        ("User.csv", "users"),
    ]
    assert [b[2:] for b in batches(tmp_path) if b[0] == "Account.csv"] == [(2, 1, 0, 1)]


def test_names_files_are_read_trimmed_like_the_deals(tmp_path: Path) -> None:
    # Spaces around an account's Id and Name (a hand-edited CSV) are trimmed, as on the deals:
    # the padded id still names Alpha's account, and the name is stored without the spaces.
    padded = ACCOUNTS.replace(
        '"001000000000001AAA","0","Acme Corp"', '" 001000000000001AAA ","0","  Acme Corp "'
    )
    _export(tmp_path, {"Opportunity.csv": OPPORTUNITIES_WITH_IDS, "Account.csv": padded})
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select id, name from crm_names") == [
        ("001000000000001AAA", "Acme Corp")
    ]
    assert query(tmp_path, "select account from deals where name = 'Alpha'") == [("Acme Corp",)]


OPPORTUNITIES_WITH_STAGE_FLAGS = """
"Id","Name","StageName","StageSortOrder","IsClosed","IsWon","Probability","CreatedDate"
"0061","A","Prospecting","1","0","0","10","2024-01-01 10:00:00"
"0062","B","Qualification","2","0","0","20","2024-01-02 10:00:00"
"0063","C","Qualification","2","0","0","25","2024-01-03 10:00:00"
"0064","D","Signed","9","1","1","100","2024-01-04 10:00:00"
"0065","E","Dropped","10","1","0","0","2024-01-05 10:00:00"
"""
STAGE_TABLE = """
Id,MasterLabel,ApiName,IsActive,SortOrder,IsClosed,IsWon,DefaultProbability
01J2,Qualification,Qualification,1,3,0,0,30
01J5,Review,Review,1,4,0,0,60
"""


@pytest.mark.slow
def test_stage_flags_on_opportunity_rows_fill_source_stages(tmp_path: Path) -> None:
    folder = _export(tmp_path, {"Opportunity.csv": OPPORTUNITIES_WITH_STAGE_FLAGS})
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    assert ingest(tmp_path) == 0
    stage_rows = (
        "select stage, sort_order, is_closed, is_won, default_probability from source_stages "
        "order by sort_order"
    )
    # One row per stage; the highest probability seen is the stage's default (0-100).
    assert query(tmp_path, stage_rows) == [
        ("Prospecting", 1, False, False, 10.0),
        ("Qualification", 2, False, False, 25.0),
        ("Signed", 9, True, True, 100.0),
        ("Dropped", 10, True, False, 0.0),
    ]
    # The org's stage table, loaded later, wins for the stages it names; the rest stay.
    write(folder / "OpportunityStage.csv", STAGE_TABLE)
    assert ingest(tmp_path) == 0
    assert query(tmp_path, stage_rows) == [
        ("Prospecting", 1, False, False, 10.0),
        ("Qualification", 3, False, False, 30.0),
        ("Review", 4, False, False, 60.0),
        ("Signed", 9, True, True, 100.0),
        ("Dropped", 10, True, False, 0.0),
    ]
    # A newer opportunity export does not undo the stage table's rows.
    write(
        folder / "Opportunity.csv",
        OPPORTUNITIES_WITH_STAGE_FLAGS.replace('"2","0","0","25"', '"5","0","0","50"'),
    )
    assert ingest(tmp_path) == 0
    assert query(tmp_path, stage_rows)[1] == ("Qualification", 3, False, False, 30.0)


@pytest.mark.slow
@pytest.mark.skipif(REAL_SALESFORCE_EXPORT is None, reason="real Salesforce export not present")
def test_real_data_export_folder_names_accounts_and_reads_stage_flags(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert REAL_SALESFORCE_EXPORT is not None
    stages = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition"]
    adapter_config(tmp_path, "salesforce", str(REAL_SALESFORCE_EXPORT), stages)
    with caplog.at_level(logging.INFO):
        assert ingest(tmp_path) == 0
    assert not [r for r in caplog.records if "not a salesforce export" in r.getMessage()]
    assert sorted(b[:2] for b in batches(tmp_path)) == [
        ("OpportunityHistory.csv", "history"),
        ("account.csv", "accounts"),
        ("opportunity.csv", "deals"),
    ]
    assert query(tmp_path, "select status, count(*) from deals group by 1 order by 1") == [
        ("open", 13),
        ("won", 18),
    ]
    with (REAL_SALESFORCE_EXPORT / "account.csv").open(newline="", encoding="utf-8") as fh:
        account_names = {r["Id"]: r["Name"] for r in csv.DictReader(fh)}
    with (REAL_SALESFORCE_EXPORT / "opportunity.csv").open(newline="", encoding="utf-8") as fh:
        opportunities = list(csv.DictReader(fh))
    expected_accounts = {
        r["Id"]: account_names.get(r["AccountId"], r["AccountId"] or None) for r in opportunities
    }
    assert dict(query(tmp_path, "select deal_id, account from deals")) == expected_accounts
    # No User.csv in this export: owners stay ids.
    assert dict(query(tmp_path, "select deal_id, owner from deals")) == {
        r["Id"]: r["OwnerId"] for r in opportunities
    }
    expected_stages = {
        (r["StageName"], int(r["StageSortOrder"]), r["IsClosed"] == "1", r["IsWon"] == "1")
        for r in opportunities
    }
    assert (
        set(query(tmp_path, "select stage, sort_order, is_closed, is_won from source_stages"))
        == expected_stages
    )


@pytest.mark.slow
def test_a_name_that_starts_repeating_keeps_the_key_its_deal_had(tmp_path: Path) -> None:
    # Week 1: "Acme - Renewal" is unique, so its name is its key. Week 2 adds next year's renewal
    # of the same name: the first deal (same creation time) keeps its key, the new one is dated,
    # and no copy of the first is left behind.
    week_1 = (
        "Name,StageName,Amount,CloseDate,CreatedDate\n"
        "Acme - Renewal,Closed Won,1000,2023-02-01,2023-01-05 09:00:00\n"
    )
    _export(tmp_path, {"deals.csv": week_1})
    adapter_config(tmp_path, "salesforce", "export", STAGES)
    assert ingest(tmp_path) == 0
    week_2 = week_1 + "Acme - Renewal,Prospecting,1200,2024-03-01,2024-01-07 09:00:00\n"
    write(tmp_path / "export" / "deals.csv", week_2)
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id, status, amount from deals order by amount") == [
        ("Acme - Renewal", "won", 1000.0),
        ("Acme - Renewal [2024-01-07 09:00:00]", "open", 1200.0),
    ]
