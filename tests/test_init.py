"""`init`: recognise an export, write a config whose marts equal a hand-written config's, say what
the export holds and lacks; and `run` from a config of only adapter and path on the real export.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.sample.simulator import write_sample
from tests.adapter_fixtures import REAL_SALESFORCE_EXPORT
from tests.conftest import SAMPLE_DIR, write

AS_OF = "2026-10-31T23:59:59"


def built_marts(config: Path, db: Path) -> dict[str, list[tuple]]:
    """Every mart_* table after ingest and build, rows sorted, floats rounded to 6 places."""
    args = ["-q", "--config", str(config), "--db", str(db)]
    assert main([*args, "ingest"]) == 0
    assert main([*args, "build", "--as-of", AS_OF]) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_name like 'mart\\_%' escape '\\' order by 1"
            ).fetchall()
        ]
        return {
            name: sorted(
                (
                    tuple(round(v, 6) if isinstance(v, float) else v for v in row)
                    for row in con.execute(f"select * from {name}").fetchall()
                ),
                key=repr,
            )
            for name in names
        }
    finally:
        con.close()


def init(out: Path, *paths: Path, force: bool = False) -> int:
    return main(["-q", "init", *map(str, paths), "--out", str(out), *(["--force"] * force)])


def _generic_sample(folder: Path) -> Path:
    """A small generic export with the bundled sample's hand-written config next to it."""
    write_sample(folder, 300, 7)
    shutil.copy(SAMPLE_DIR / "pipeline.toml", folder / "pipeline.toml")
    return folder / "pipeline.toml"


def _hand_written(rendering: str, folder: Path) -> tuple[Path, Path]:
    """(hand-written config, export) of a rendering."""
    if rendering == "generic":
        return _generic_sample(folder / "export"), folder / "export"
    return SAMPLE_DIR / f"{rendering}.toml", SAMPLE_DIR / rendering


def _adapter_and_path_only(folder: Path, adapter: str, export: Path) -> Path:
    if adapter != "generic":
        return write(folder / "p.toml", f'[[sources]]\nname = "x"\nadapter = "{adapter}"\n'
                     f'path = "{export}"\n')  # fmt: skip
    # The generic sample's activities need their mapping; deals and history need none.
    return write(
        folder / "p.toml",
        f"""
        [[sources]]
        name = "x"
        adapter = "generic"
        path = "{export / "deals.csv"}"
        history = "{export / "stage_history.csv"}"
        activities = "{export / "activities.csv"}"
        [sources.activity_columns]
        deal_id = "opportunity_id"
        occurred_at = "completed_at"
        activity_type = "activity_type"
        owner = "assigned_to"
        """,
    )


@pytest.mark.slow
@pytest.mark.parametrize("rendering", ["generic", "salesforce", "hubspot", "pipedrive_it"])
def test_init_config_and_adapter_and_path_only_build_the_marts_of_the_hand_written_config(
    tmp_path: Path, rendering: str
) -> None:
    hand, export = _hand_written(rendering, tmp_path)
    expected = built_marts(hand, tmp_path / "hand.duckdb")
    assert expected["mart_kpis"]  # the comparison is over real rows
    adapter = rendering.removesuffix("_it")
    written = tmp_path / "init.toml"
    assert init(written, export) == 0
    assert tomllib.loads(written.read_text(encoding="utf-8"))["sources"][0]["adapter"] == adapter
    assert built_marts(written, tmp_path / "init.duckdb") == expected
    # The same inference at ingest with nothing written down gives the same marts.
    minimal = _adapter_and_path_only(tmp_path, adapter, export)
    marts = built_marts(minimal, tmp_path / "minimal.duckdb")
    assert _without_source(marts) == _without_source(expected)


def _without_source(marts: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    names = {"crm", "x", "salesforce", "hubspot", "pipedrive"}
    return {
        table: sorted(
            (
                tuple("SOURCE" if isinstance(v, str) and v in names else v for v in row)
                for row in rows
            ),
            key=repr,
        )
        for table, rows in marts.items()
    }


def test_init_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "deals.csv", "Deal ID,Stage,Created\nD1,Won,2024-01-02\nD2,Lost,2024-01-03\n")
    out = write(tmp_path / "pipeline.toml", "# mine\n")
    assert init(out, tmp_path / "deals.csv") == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "# mine\n"
    assert init(out, tmp_path / "deals.csv", force=True) == 0
    assert tomllib.loads(out.read_text())["sources"][0]["columns"]["deal_id"] == "Deal ID"


def test_init_writes_a_guessed_order_for_the_user_to_confirm_and_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No history, no probability, no amounts, no lost deal: the order comes from deal age.
    write(
        tmp_path / "deals.csv",
        """
        Opportunity ID,Fase,Data creazione,Ultima modifica
        T1,Proposta,2024-01-01,2024-03-31
        T2,Contatto,2024-03-01,2024-03-31
        T3,Vinto,2024-02-01,2024-03-31
        """,
    )
    out = tmp_path / "pipeline.toml"
    assert init(out, tmp_path / "deals.csv") == 0
    printed = capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert "NOT DECIDED BY THE DATA" in text
    assert tomllib.loads(text)["pipeline"]["stages"] == ["Contatto", "Proposta"]
    assert "Deals: 3 (1 won, 0 lost, 2 open)" in printed
    assert "no stage history" in printed
    assert "no lost deals" in printed
    assert "no amounts" in printed
    assert "1. Contatto: 1 deal (deal age)" in printed
    # The written config runs as is.
    assert main(["-q", "--config", str(out), "--db", str(tmp_path / "w.duckdb"), "ingest"]) == 0


@pytest.mark.slow
def test_init_tells_the_files_of_a_generic_folder_apart(tmp_path: Path) -> None:
    write(tmp_path / "deals.csv", "deal_id,stage,created_at\nD1,Won,2024-01-02\n")
    write(tmp_path / "history.csv", "deal_id,stage,changed_at\nD1,Won,2024-01-05\n")
    write(tmp_path / "calls.csv", "deal_id,activity_type,completed_at\nD1,Call,2024-01-03\n")
    write(tmp_path / "notes.csv", "author,text\nAnn,hello\n")
    out = tmp_path / "pipeline.toml"
    assert init(out, tmp_path) == 0
    source = tomllib.loads(out.read_text(encoding="utf-8"))["sources"][0]
    assert (source["path"], source["history"], source["activities"]) == (
        "deals.csv",
        "history.csv",
        "calls.csv",
    )
    assert source["activity_columns"]["occurred_at"] == "completed_at"


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SALESFORCE_EXPORT.is_dir(), reason="real export not present")
def test_real_salesforce_export_builds_from_adapter_and_path_only(tmp_path: Path) -> None:
    write(
        tmp_path / "p.toml",
        f'[[sources]]\nname = "sf"\nadapter = "salesforce"\npath = "{REAL_SALESFORCE_EXPORT}"\n',
    )
    args = ["-q", "--config", str(tmp_path / "p.toml"), "--db", str(tmp_path / "w.duckdb")]
    assert main([*args, "ingest"]) == 0
    assert main([*args, "build"]) == 0
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        statuses = con.execute("select status, count(*) from deals group by 1 order by 1")
        assert statuses.fetchall() == [("open", 13), ("won", 18)]
        orders = con.execute(
            "select count(*), count(distinct stage_order) from stages where stage_order is not null"
        ).fetchall()
        assert orders == [(8, 8)]
        assert con.execute("select count(*) from mart_kpis").fetchall()[0][0] > 0
    finally:
        con.close()
