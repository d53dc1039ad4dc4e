"""Leads through ingest: recognised in a CRM export folder, or named by `leads` with a mapping."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pipeline_analytics.config import parse_config
from pipeline_analytics.errors import ConfigError
from tests.adapter_fixtures import adapter_config, batches, ingest, query, write_csv
from tests.conftest import run_cli, write

OPPORTUNITY = ["Id", "Name", "StageName", "Amount", "CreatedDate", "CloseDate", "IsClosed", "IsWon"]
LEAD = [
    "Id", "FirstName", "LastName", "Company", "OwnerId", "LeadSource", "Status", "CreatedDate",
    "IsConverted", "ConvertedDate", "ConvertedOpportunityId", "IsDeleted",
]  # fmt: skip


def salesforce_folder(folder: Path) -> Path:
    """A Data Export folder: opportunities, leads and a Case file (Id, Status, CreatedDate too)."""
    export = folder / "export"
    export.mkdir()
    write_csv(
        export / "Opportunity.csv",
        OPPORTUNITY,
        [
            ["006A", "Acme", "Closed Won", "1000", "2024-02-01T00:00:00.000+0000", "2024-03-01",
             "1", "1"],
            ["006B", "Beta", "Prospecting", "500", "2024-02-10T00:00:00.000+0000", "2024-05-01",
             "0", "0"],
        ],
    )  # fmt: skip
    write_csv(
        export / "Lead.csv",
        LEAD,
        [
            ["00QA", "Ann", "Smith", "Acme", "005X", "Web", "Closed - Converted",
             "2024-01-01T00:00:00.000+0000", "1", "2024-02-01", "006A", "0"],
            ["00QB", "Bob", "", "Beta", "005X", "Web", "Closed - Converted",
             "2024-01-15T00:00:00.000+0000", "1", "2024-02-10", "006B", "0"],
            # Not converted: a stale conversion date on the row means nothing.
            ["00QC", "Cy", "Ho", "Gamma", "005Y", "Phone", "Working",
             "2024-01-20T00:00:00.000+0000", "0", "2024-01-25", "", "0"],
            ["00QD", "Di", "Lee", "Delta", "005Y", "Phone", "Open", "not a date", "0", "", "",
             "0"],
            ["00QE", "Ed", "Old", "Eps", "005Y", "Phone", "Open", "2024-01-20T00:00:00.000+0000",
             "0", "", "", "1"],
        ],
    )  # fmt: skip
    write_csv(export / "Case.csv", ["Id", "Status", "CreatedDate"], [["500A", "New", "2024-01-01"]])
    adapter_config(folder, "salesforce", "export", ["Prospecting"])
    return export


@pytest.mark.slow
def test_a_salesforce_lead_file_is_recognised_in_the_export_folder(tmp_path: Path) -> None:
    salesforce_folder(tmp_path)
    assert ingest(tmp_path) == 0
    # Lead.csv: 5 rows, 3 loaded, line 5 rejected (no date), the deleted lead excluded.
    assert batches(tmp_path) == [
        ("Opportunity.csv", "deals", 2, 2, 0, 0),
        ("Lead.csv", "leads", 5, 3, 1, 1),
    ]
    assert query(
        tmp_path,
        "select lead_id, name, company, owner, lead_source, status, created_at::varchar, "
        "converted_at::varchar, converted_deal_id from leads order by lead_id",
    ) == [
        ("00QA", "Ann Smith", "Acme", "005X", "Web", "Closed - Converted",
         "2024-01-01 00:00:00", "2024-02-01 00:00:00", "006A"),
        ("00QB", "Bob", "Beta", "005X", "Web", "Closed - Converted",
         "2024-01-15 00:00:00", "2024-02-10 00:00:00", "006B"),
        ("00QC", "Cy Ho", "Gamma", "005Y", "Phone", "Working",
         "2024-01-20 00:00:00", None, None),
    ]  # fmt: skip
    assert query(tmp_path, "select source_row, column_name from rejected_rows") == [
        (5, "created_at")
    ]
    # The file's latest created or converted time is when the export was taken.
    assert query(tmp_path, "select distinct snapshot_at::varchar from leads") == [
        ("2024-02-10 00:00:00",)
    ]
    assert run_cli(tmp_path, "-q", "build", "--as-of", "2024-06-01") == 0
    assert query(
        tmp_path,
        "select leads_created, leads_converted, converted_deals_won, leads_expired "
        "from mart_lead_conversion where dimension = 'all'",
    ) == [(3, 2, 1, 1)]


@pytest.mark.slow
def test_the_newest_export_of_a_lead_wins_and_duplicates_in_a_file_are_rejected(
    tmp_path: Path,
) -> None:
    header = ["lead_id", "created_at", "status", "converted_at"]
    write_csv(tmp_path / "leads_june.csv", header, [
        ["L1", "2024-01-01", "Converted", "2024-06-01"],
    ])  # fmt: skip
    write_csv(tmp_path / "leads_march.csv", header, [
        ["L1", "2024-01-01", "Working", ""],
        ["L2", "2024-02-01", "New", ""],
        ["L2", "2024-03-01", "Working", ""],
    ])  # fmt: skip
    write_csv(
        tmp_path / "deals.csv", ["deal_id", "stage", "created_at"], [["D", "A", "2024-01-01"]]
    )
    adapter_config(
        tmp_path,
        "generic",
        "deals.csv",
        ["A"],
        source_extra='leads = "leads_*.csv"\n[sources.status]\nwon = ["W"]\nlost = ["L"]',
    )
    assert ingest(tmp_path) == 0
    # March is the older export (its latest event is 1 March): it does not undo June's L1.
    assert query(tmp_path, "select lead_id, status, created_at::date::varchar from leads "
                 "order by lead_id") == [
        ("L1", "Converted", "2024-01-01"),
        ("L2", "Working", "2024-03-01"),
    ]  # fmt: skip
    assert query(tmp_path, "select source_row, reason from rejected_rows") == [
        (3, "duplicate lead_id 'L2': line 4 has the same id and was kept")
    ]


@pytest.mark.slow
def test_a_generic_leads_sheet_through_a_mapping_links_to_deals_naming_the_lead(
    tmp_path: Path,
) -> None:
    write(
        tmp_path / "deals.csv",
        """
        Deal,Stage,Created,Lead
        D1,Won,2024-02-01,P-1
        D2,Proposal,2024-03-01,
        """,
    )
    write(
        tmp_path / "prospects.csv",
        """
        Prospect,Channel,Rep,Since
        P-1,Fair,ann,2024-01-01
        P-2,Fair,ann,2024-05-20
        """,
    )
    write(
        tmp_path / "p.toml",
        """
        [[sources]]
        name = "crm"
        adapter = "generic"
        path = "deals.csv"
        leads = "prospects.csv"
        [sources.columns]
        deal_id = "Deal"
        stage = "Stage"
        created_at = "Created"
        lead_id = "Lead"
        [sources.lead_columns]
        lead_id = "Prospect"
        lead_source = "Channel"
        owner = "Rep"
        created_at = "Since"
        [sources.status]
        won = ["Won"]
        lost = ["Lost"]
        [pipeline]
        stages = ["Proposal"]
        currency = "USD"
        lead_expiry_days = 30
        """,
    )
    assert run_cli(tmp_path, "-q", "ingest") == 0
    assert query(tmp_path, "select deal_id, lead_id from deals order by deal_id") == [
        ("D1", "P-1"),
        ("D2", None),
    ]
    assert run_cli(tmp_path, "-q", "build", "--as-of", "2024-06-01") == 0
    # P-1 became D1 (won) after 31 days; P-2 is 12 days old: open.
    assert query(
        tmp_path,
        "select dimension_value, leads_created, leads_converted, converted_deals_won, "
        "leads_open, median_days_to_convert, lead_expiry_days from mart_lead_conversion "
        "where dimension = 'lead_source'",
    ) == [("Fair", 2, 1, 1, 1, 31.0, 30)]


def test_a_mapped_lead_column_missing_from_the_sheet_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "deals.csv", "deal_id,stage,created_at\nD,A,2024-01-01\n")
    write(tmp_path / "leads.csv", "id,created_at\nL,2024-01-01\n")
    adapter_config(
        tmp_path,
        "generic",
        "deals.csv",
        ["A"],
        source_extra='leads = "leads.csv"\n[sources.lead_columns]\nlead_id = "Lead Id"\n'
        '[sources.status]\nwon = ["W"]\nlost = ["L"]',
    )
    assert ingest(tmp_path) == 2
    error = capsys.readouterr().err
    assert "leads.csv" in error and "lead_id = 'Lead Id' (from the config)" in error
    assert "[sources.lead_columns] lead_id" in error
    assert query(tmp_path, "select count(*) from leads") == [(0,)]
    assert query(tmp_path, "select count(*) from deals") == [(1,)]  # the deals still load


@pytest.mark.slow
def test_a_hubspot_contacts_export_is_recognised_with_its_first_associated_deal(
    tmp_path: Path,
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    write_csv(
        export / "deals.csv",
        ["Record ID", "Deal Name", "Deal Stage", "Create Date", "Close Date", "Amount"],
        [["901", "Acme", "Closed Won", "2024-02-01", "2024-03-01", "100"]],
    )
    write_csv(
        export / "contacts.csv",
        ["Record ID", "First Name", "Last Name", "Contact owner", "Lead Status",
         "Original Source", "Create Date", "Became an Opportunity Date", "Associated Deal IDs"],
        [
            ["11", "Ann", "Smith", "Carla", "CONNECTED", "Organic Search", "2024-01-01",
             "2024-02-01", "901;902"],
            ["12", "Bob", "Jones", "Carla", "NEW", "Direct Traffic", "2024-01-10", "", ""],
        ],
    )  # fmt: skip
    adapter_config(tmp_path, "hubspot", "export", ["Appointment Scheduled"])
    assert ingest(tmp_path) == 0
    assert [b[:2] for b in batches(tmp_path)] == [("deals.csv", "deals"), ("contacts.csv", "leads")]
    assert query(
        tmp_path,
        "select lead_id, name, owner, lead_source, status, converted_deal_id from leads "
        "order by lead_id",
    ) == [
        ("11", "Ann Smith", "Carla", "Organic Search", "CONNECTED", "901"),
        ("12", "Bob Jones", "Carla", "Direct Traffic", "NEW", None),
    ]


@pytest.mark.parametrize(
    ("pipeline_line", "source_line", "key"),
    [
        ("lead_expiry_days = 0", "", "pipeline.lead_expiry_days"),
        ('lead_expiry_days = "90"', "", "pipeline.lead_expiry_days"),
        ("", '[sources.lead_columns]\nconverted = "x"', "sources[0].lead_columns.converted"),
    ],
)
def test_lead_settings_are_validated(
    tmp_path: Path, pipeline_line: str, source_line: str, key: str
) -> None:
    adapter_config(tmp_path, "salesforce", "x", ["A"], pipeline_extra=pipeline_line,
                   source_extra=source_line)  # fmt: skip
    raw = tomllib.loads((tmp_path / "p.toml").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=re.escape(f"key '{key}'")):
        parse_config(raw, tmp_path / "p.toml")


def test_lead_expiry_defaults_to_90_days(tmp_path: Path) -> None:
    adapter_config(tmp_path, "salesforce", "x", ["A"])
    raw = tomllib.loads((tmp_path / "p.toml").read_text(encoding="utf-8"))
    assert parse_config(raw, tmp_path / "p.toml").pipeline.lead_expiry_days == 90


@pytest.mark.slow
def test_leads_and_their_expiry_survive_a_backup_and_restore(tmp_path: Path) -> None:
    salesforce_folder(tmp_path)
    adapter_config(
        tmp_path, "salesforce", "export", ["Prospecting"], pipeline_extra="lead_expiry_days = 200"
    )
    assert ingest(tmp_path) == 0
    assert run_cli(tmp_path, "-q", "build", "--as-of", "2024-06-01") == 0
    assert run_cli(tmp_path, "-q", "export-warehouse", str(tmp_path / "backup")) == 0
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "p.toml").write_text((tmp_path / "p.toml").read_text())
    assert run_cli(restored, "-q", "import-warehouse", str(tmp_path / "backup")) == 0
    sql = (
        "select lead_id, converted_deal_id, snapshot_at from leads order by lead_id",
        "select * from mart_lead_conversion order by dimension, dimension_value",
    )
    for query_sql in sql:
        assert query(restored, query_sql) == query(tmp_path, query_sql)
    # 00QC is 133 days old at as_of: open with the configured 200 days, as before the backup.
    assert query(restored, "select leads_open, leads_expired, lead_expiry_days "
                 "from mart_lead_conversion where dimension = 'all'") == [(1, 0, 200)]  # fmt: skip
