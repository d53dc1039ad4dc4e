"""`status` lists what ingest inferred, so every inference can be read back and overridden."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, write

DEALS = """
Deal ID,Fase,Importo,Data creazione,Data chiusura
D1,Qualifica,EUR 1.000,2024-01-05,2024-03-01
D2,Vinto,EUR 2.000,2024-01-06,2024-02-01
D3,Perso,EUR 500,2024-01-07,2024-02-10
"""


def test_status_lists_each_inferred_setting_with_its_basis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "deals.csv", DEALS)
    write(
        tmp_path / "p.toml", '[[sources]]\nname = "crm"\nadapter = "generic"\npath = "deals.csv"\n'
    )
    assert run_cli(tmp_path, "-q", "ingest") == 0
    capsys.readouterr()
    assert run_cli(tmp_path, "status") == 0
    printed = capsys.readouterr().out
    for line in (
        "  crm: columns.deal_id = Deal ID (header 'Deal ID')",
        "  crm: columns.stage = Fase (header 'Fase')",
        "  crm: columns.amount = Importo (header 'Importo')",
        '  crm: status.won = ["Vinto"] (stage name)',
        '  crm: status.lost = ["Perso"] (stage name)',
        "  warehouse: pipeline.currency = EUR (",
    ):
        assert line in printed


def test_status_says_nothing_was_inferred_when_the_config_gives_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "deals.csv", "id,phase,created\nD1,Prospecting,2024-01-05\nD2,Won,2024-01-06\n"
    )
    write(
        tmp_path / "p.toml",
        """
        [[sources]]
        name = "crm"
        adapter = "generic"
        path = "deals.csv"
        columns = { deal_id = "id", stage = "phase", created_at = "created" }
        status = { won = ["Won"], lost = ["Lost"] }
        [pipeline]
        stages = ["Prospecting"]
        currency = "USD"
        """,
    )
    assert run_cli(tmp_path, "-q", "ingest") == 0
    capsys.readouterr()
    assert run_cli(tmp_path, "status") == 0
    assert "Inferred settings: none" in capsys.readouterr().out
