"""The Salesforce adapter: Data Export and report exports, history, stage table, deleted rows."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from tests.adapter_fixtures import (
    REAL_SALESFORCE_EXPORT,
    adapter_config,
    batches,
    ingest,
    query,
)
from tests.conftest import write

DEFAULT_STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
]

# A "Details Only" opportunity report saved as CSV: labels, US dates, money with symbols, a
# grouped report's total row and the footer Salesforce appends.
REPORT = """
"Opportunity Name","Account Name","Opportunity Owner","Stage","Amount","Probability (%)","Close Date","Created Date","Opportunity ID","Lead Source","Type"
"Acme - New","Acme","Ann Lee","Prospecting","$1,200.50","10%","3/28/2024","3/1/2024","0061","Web","New Business"
"Beta - Renewal","Beta","Bob Ray","Closed Won","$2,000.00","100%","3/20/2024","2/15/2024","0062","Partner","Renewal"
"Gamma","Gamma","Ann Lee","Closed Lost","$500.00","0%","3/18/2024","2/1/2024","0063","Web","New Business"
"Total","","","","$3,700.50","","","","","",""


"Grand Totals (3 records)"

""
"Confidential Information - Do Not Distribute"
""
"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."
"""  # noqa: E501

# The "Opportunity History" report: From/To Stage; rows 2 and 3 only edit amount and close date.
HISTORY_REPORT = """
Opportunity ID,Opportunity Name,From Stage,To Stage,Amount,Close Date,Last Modified
0061,Acme - New,,Prospecting,"$1,000.00",3/15/2024,3/1/2024 9:00 AM
0061,Acme - New,Prospecting,Prospecting,"$1,200.50",3/15/2024,3/5/2024 10:00 AM
0061,Acme - New,Prospecting,Prospecting,"$1,200.50",3/28/2024,3/10/2024 11:30 AM
0062,Beta - Renewal,,Prospecting,"$2,000.00",3/20/2024,2/15/2024 8:00 AM
0062,Beta - Renewal,Prospecting,Closed Won,"$2,000.00",3/20/2024,3/20/2024 4:15 PM
"""


@pytest.mark.slow
def test_report_export_loads_without_mapping(tmp_path: Path) -> None:
    write(tmp_path / "opportunities.csv", REPORT)
    adapter_config(tmp_path, "salesforce", "opportunities.csv", DEFAULT_STAGES)
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, name, owner, status, amount, probability, closed_at::date::varchar, "
        "expected_close_date::varchar from deals order by deal_id",
    ) == [
        ("0061", "Acme - New", "Ann Lee", "open", 1200.5, 0.1, None, "2024-03-28"),
        ("0062", "Beta - Renewal", "Bob Ray", "won", 2000.0, 1.0, "2024-03-20", None),
        ("0063", "Gamma", "Ann Lee", "lost", 500.0, 0.0, "2024-03-18", None),
    ]
    # 4 table rows (3 deals + the Total row) and 5 footer lines (Grand Totals, two "", the
    # disclaimer, the copyright; blank lines are not rows): 3 loaded, 1 + 5 excluded.
    assert batches(tmp_path) == [("opportunities.csv", "deals", 9, 3, 0, 6)]


@pytest.mark.slow
def test_history_report_gives_stints_and_slippage(tmp_path: Path) -> None:
    write(tmp_path / "opportunities.csv", REPORT)
    write(tmp_path / "history.csv", HISTORY_REPORT)
    adapter_config(
        tmp_path,
        "salesforce",
        "opportunities.csv",
        DEFAULT_STAGES,
        source_extra='history = "history.csv"',
    )
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, stage, entered_at::varchar, exited_at::varchar, origin "
        "from deal_stage_events where deal_id in ('0061', '0062') order by deal_id, entered_at",
    ) == [
        # Edits in the same stage do not start a new stint.
        ("0061", "Prospecting", "2024-03-01 09:00:00", None, "history"),
        ("0062", "Prospecting", "2024-02-15 08:00:00", "2024-03-20 16:15:00", "history"),
        ("0062", "Closed Won", "2024-03-20 16:15:00", None, "history"),
    ]
    assert query(
        tmp_path,
        "select deal_id, field, old_value, new_value, changed_at::varchar "
        "from deal_changes order by changed_at",
    ) == [
        ("0061", "amount", "1000.0", "1200.5", "2024-03-05 10:00:00"),
        ("0061", "close_date", "2024-03-15", "2024-03-28", "2024-03-10 11:30:00"),
    ]
    # A push is a close-date change to a later date (ISO text compares like dates).
    assert query(
        tmp_path,
        "select deal_id, count(*) from deal_changes "
        "where field = 'close_date' and new_value > old_value group by deal_id",
    ) == [("0061", 1)]


def test_stage_table_decides_status_of_renamed_stages(tmp_path: Path) -> None:
    """A report has no IsWon column; the org's OpportunityStage says 'Signed' is won."""
    folder = tmp_path / "export"
    folder.mkdir()
    write(
        folder / "report.csv",
        """
        Opportunity ID,Stage,Created Date,Close Date,Amount
        A1,Signed,2024-01-02,2024-02-01,100
        A2,Dropped,2024-01-03,2024-02-02,200
        A3,Pitch,2024-01-04,2024-03-01,300
        """,
    )
    write(
        folder / "OpportunityStage.csv",
        """
        Id,MasterLabel,ApiName,IsActive,SortOrder,IsClosed,IsWon,DefaultProbability
        01J1,Pitch,Pitch,1,1,0,0,25
        01J2,Signed,Signed,1,2,1,1,100
        01J3,Dropped,Dropped,1,3,1,0,0
        """,
    )
    adapter_config(tmp_path, "salesforce", "export", ["Pitch"])
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id, status from deals order by 1") == [
        ("A1", "won"),
        ("A2", "lost"),
        ("A3", "open"),
    ]
    assert query(
        tmp_path,
        "select stage, stage_order, is_won, is_lost, default_probability from stages "
        "order by stage",
    ) == [
        ("Dropped", None, False, True, 0.0),
        ("Pitch", 1, False, False, 0.25),  # from OpportunityStage.DefaultProbability (25 %)
        ("Signed", None, True, False, 1.0),
    ]
    # The stage table loads first, whatever the file names.
    assert [b[:2] for b in batches(tmp_path)] == [
        ("OpportunityStage.csv", "stages"),
        ("report.csv", "deals"),
    ]


DATA_EXPORT = """
"Id","IsDeleted","Name","StageName","Amount","CloseDate","CreatedDate","IsClosed","IsWon","CurrencyIsoCode"
"006A","0","Alpha","Prospecting","100","2024-05-01","2024-01-01 10:00:00","0","0","USD"
"006B","0","Bravo","Closed Won","200","2024-02-01","2024-01-02 10:00:00","1","1","EUR"
"006C","1","Charlie","Prospecting","300","2024-05-01","2024-01-03 10:00:00","0","0","USD"
"""


def test_deleted_rows_are_excluded_and_a_later_deletion_removes_the_deal(tmp_path: Path) -> None:
    write(tmp_path / "Opportunity.csv", DATA_EXPORT)
    adapter_config(
        tmp_path,
        "salesforce",
        "Opportunity.csv",
        DEFAULT_STAGES,
        pipeline_extra="rates = { EUR = 1.25 }",
    )
    assert ingest(tmp_path) == 0
    # IsWon/IsClosed decide the status; EUR 200 at 1.25 is 250 in the reporting currency.
    assert query(
        tmp_path, "select deal_id, status, currency, amount_base from deals order by 1"
    ) == [("006A", "open", "USD", 100.0), ("006B", "won", "EUR", 250.0)]
    assert batches(tmp_path) == [("Opportunity.csv", "deals", 3, 2, 0, 1)]

    write(
        tmp_path / "Opportunity.csv",
        DATA_EXPORT.replace('"006A","0"', '"006A","1"').replace(
            "2024-01-03 10:00:00", "2024-06-01 10:00:00"
        ),
    )
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select deal_id from deals order by 1") == [("006B",)]
    assert query(tmp_path, "select count(*) from deal_stage_events where deal_id = '006A'") == [
        (0,)
    ]


def test_renamed_header_fails_with_nearest_match_then_loads_with_one_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "Opportunity.csv", DATA_EXPORT.replace('"StageName"', '"Sales Phase"'))
    adapter_config(tmp_path, "salesforce", "Opportunity.csv", DEFAULT_STAGES)
    assert ingest(tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stage (expected a header like 'StageName' / 'Stage' / 'Fase')" in err
    assert "headers found: 'Id', 'IsDeleted', 'Name', 'Sales Phase'" in err
    assert "[sources.columns] stage" in err
    adapter_config(
        tmp_path,
        "salesforce",
        "Opportunity.csv",
        DEFAULT_STAGES,
        source_extra='[sources.columns]\nstage = "Sales Phase"',
    )
    assert ingest(tmp_path) == 0
    assert query(tmp_path, "select count(*) from deals") == [(2,)]


def test_italian_report_loads_without_mapping(tmp_path: Path) -> None:
    write(
        tmp_path / "opportunita.csv",
        """
        ID opportunità;Nome opportunità;Fase;Importo;Data di chiusura;Data di creazione
        I1;Rossi S.p.A.;Prospecting;1.234,56;31/03/2024;02/01/2024
        I2;Bianchi S.r.l.;Closed Won;€ 10.000,00;15/02/2024;05/01/2024
        """,
        encoding="utf-8-sig",
    )
    adapter_config(tmp_path, "salesforce", "opportunita.csv", DEFAULT_STAGES)
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select deal_id, status, amount, created_at::date::varchar, closed_at::date::varchar, "
        "expected_close_date::varchar from deals order by 1",
    ) == [
        ("I1", "open", 1234.56, "2024-01-02", None, "2024-03-31"),
        ("I2", "won", 10000.0, "2024-01-05", "2024-02-15", None),
    ]


real_export = pytest.mark.skipif(
    not (REAL_SALESFORCE_EXPORT / "opportunity.csv").is_file(),
    reason=f"real export not present at {REAL_SALESFORCE_EXPORT}",
)


def _close_date_changes_in_real_history() -> int:
    """Consecutive OpportunityHistory rows of a deal with different CloseDate, with csv only."""
    with (REAL_SALESFORCE_EXPORT / "OpportunityHistory.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["IsDeleted"] == "0"]
    changes = 0
    rows.sort(key=lambda r: r["OpportunityId"])  # stable: file order within a deal
    for _, deal_rows in itertools.groupby(rows, key=lambda r: r["OpportunityId"]):
        ordered = sorted(deal_rows, key=lambda r: r["CreatedDate"])
        changes += sum(
            a["CloseDate"][:10] != b["CloseDate"][:10] for a, b in itertools.pairwise(ordered)
        )
    return changes


@pytest.mark.slow
@real_export
def test_real_data_export_folder_loads_without_mapping(tmp_path: Path) -> None:
    from tests.test_real_export_generic import expected_kpis

    adapter_config(tmp_path, "salesforce", str(REAL_SALESFORCE_EXPORT), DEFAULT_STAGES)
    assert ingest(tmp_path) == 0
    args = ["--config", str(tmp_path / "p.toml"), "--db", str(tmp_path / "w.duckdb")]
    assert main([*args, "build"]) == 0
    # account.csv names the deals' accounts (tests/test_salesforce_as_people_export.py).
    assert [b[:2] for b in batches(tmp_path)] == [
        ("account.csv", "accounts"),
        ("opportunity.csv", "deals"),
        ("OpportunityHistory.csv", "history"),
    ]
    expected = expected_kpis()
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        actual = dict(
            zip(
                expected,
                con.execute(f"select {', '.join(expected)} from mart_kpis").fetchall()[0],
                strict=True,
            )
        )
        changes = con.execute(
            "select count(*) from deal_changes where field = 'close_date'"
        ).fetchall()[0][0]
        origins = con.execute(
            "select origin, count(*) from deal_stage_events group by 1"
        ).fetchall()
    finally:
        con.close()
    assert actual == pytest.approx(expected)
    # Every deal's second history row only moves CloseDate (the README's quirk).
    assert changes == _close_date_changes_in_real_history() == 31
    assert origins == [("history", 31)]


def test_field_history_gives_stages_and_edits(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write(
        folder / "Opportunity.csv",
        DATA_EXPORT.replace('"Prospecting","100"', '"Qualification","150"'),
    )
    write(
        folder / "OpportunityFieldHistory.csv",
        """
        Id,OpportunityId,Field,OldValue,NewValue,CreatedDate,IsDeleted
        017A,006A,created,,,2024-01-01 10:00:00,0
        017B,006A,StageName,Prospecting,Qualification,2024-01-10 10:00:00,0
        017C,006A,CloseDate,2024-05-01,2024-06-01,2024-01-12 10:00:00,0
        017D,006A,Amount,100,150,2024-01-15 10:00:00,0
        017E,006A,Description,,Renewal talks,2024-01-16 10:00:00,0
        """,
    )
    adapter_config(tmp_path, "salesforce", "export", DEFAULT_STAGES)
    assert ingest(tmp_path) == 0
    assert query(
        tmp_path,
        "select stage, entered_at::varchar, exited_at::varchar from deal_stage_events "
        "where deal_id = '006A' order by entered_at",
    ) == [
        # The first change's old value is the stage the deal was created in.
        ("Prospecting", "2024-01-01 10:00:00", "2024-01-10 10:00:00"),
        ("Qualification", "2024-01-10 10:00:00", None),
    ]
    assert query(
        tmp_path, "select field, old_value, new_value from deal_changes order by changed_at"
    ) == [("close_date", "2024-05-01", "2024-06-01"), ("amount", "100.0", "150.0")]
    # 'created' and 'Description' rows are not tracked fields: excluded, counted.
    assert batches(tmp_path)[1] == ("OpportunityFieldHistory.csv", "field_history", 5, 3, 0, 2)
