"""Hostile and careless input outside the export files (issue 14, item 9): the config's numbers and
paths, a lock file that is a symlink, control characters in log lines, an unwritable warehouse."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.config import load_config
from pipeline_analytics.errors import ConfigError, InputError
from pipeline_analytics.lock import WarehouseLock, lock_path
from pipeline_analytics.logs import HumanFormatter, JsonFormatter
from tests.adapter_fixtures import ingest
from tests.conftest import GENERIC_CONFIG, run_cli, write

DEALS = """
id,stage,created,closed,value,rep
D1,Prospecting,2024-01-01,,100,Ann
D2,Won,2024-01-02,2024-02-01,200,Bob
"""


def _config(folder: Path, *, pipeline: str = "", path: str = '"deals.csv"') -> Path:
    text = GENERIC_CONFIG.format(history="").replace('"deals.csv"', path)
    return write(folder / "p.toml", text + pipeline)


# --- the config's numbers and paths ------------------------------------------------------------


@pytest.mark.parametrize("rate", ["nan", "inf", "-inf", "-1.1", "0", "0.0"])
def test_a_rate_that_is_not_a_positive_number_names_the_key(tmp_path: Path, rate: str) -> None:
    path = _config(tmp_path, pipeline=f"rates = {{ EUR = {rate} }}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "'pipeline.rates.EUR'" in str(error.value)
    assert "positive" in str(error.value)


def test_a_rate_key_that_is_not_a_currency_code_names_the_key(tmp_path: Path) -> None:
    path = _config(tmp_path, pipeline="rates = { EURO = 1.1 }\n")
    with pytest.raises(ConfigError, match="'pipeline.rates.EURO'"):
        load_config(path)


def test_a_nan_rate_stops_before_touching_the_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path, pipeline="rates = { EUR = nan }\n")
    write(tmp_path / "deals.csv", DEALS)
    assert run_cli(tmp_path, "ingest") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "'pipeline.rates.EUR'" in error[0]
    assert not (tmp_path / "w.duckdb").exists()


@pytest.mark.parametrize("days", ["99999999999", "3661", "0", "-5"])
def test_lookback_days_outside_ten_years_names_the_key(tmp_path: Path, days: str) -> None:
    path = _config(tmp_path, pipeline=f"lookback_days = {days}\n")
    with pytest.raises(ConfigError, match="'pipeline.lookback_days' must be between 1 and 3660"):
        load_config(path)


@pytest.mark.parametrize("days", [1, 3660])
def test_lookback_days_at_the_ends_of_the_range_load(tmp_path: Path, days: int) -> None:
    assert (
        load_config(_config(tmp_path, pipeline=f"lookback_days = {days}\n")).pipeline.lookback_days
        == days
    )


@pytest.mark.slow
def test_lookback_of_ten_years_builds(tmp_path: Path) -> None:
    _config(tmp_path, pipeline="lookback_days = 3660\n")
    write(tmp_path / "deals.csv", DEALS)
    assert ingest(tmp_path) == 0
    assert run_cli(tmp_path, "build") == 0


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("sources[0].path", None),
        ("sources[0].history", 'history = ""'),
        ("sources[0].activities", 'activities = ""'),
        ("pipeline.rates_file", None),
        ("warehouse.path", None),
        ("warehouse.temp_directory", None),
        ("report.output_dir", None),
    ],
)
def test_an_empty_path_names_the_key(tmp_path: Path, key: str, line: str | None) -> None:
    text = GENERIC_CONFIG.format(history=line or "")
    if key == "sources[0].path":
        text = text.replace('"deals.csv"', '""')
    elif key == "pipeline.rates_file":
        text += 'rates_file = ""\n'
    elif key.startswith(("warehouse.", "report.")):
        table, name = key.split(".")
        text += f'[{table}]\n{name} = ""\n'
    path = write(tmp_path / "p.toml", text)
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        load_config(path)


def test_an_empty_source_path_does_not_ingest_the_config_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path, path='""')
    write(tmp_path / "deals.csv", DEALS)
    assert ingest(tmp_path) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "'sources[0].path'" in error[0] and "empty" in error[0]


def test_a_source_currency_must_be_a_currency_code(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml",
        GENERIC_CONFIG.format(history='currency = "dollars"'),
    )
    with pytest.raises(ConfigError, match=re.escape("'sources[0].currency' must be a 3-letter")):
        load_config(path)


# --- the lock file -----------------------------------------------------------------------------


def test_a_symlinked_lock_file_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    target = write(tmp_path / "precious.txt", "do not truncate me\n")
    lock_path(db).symlink_to(target)
    with pytest.raises(InputError) as error:
        WarehouseLock(db, "ingest").acquire()
    message = str(error.value)
    assert str(lock_path(db)) in message and "symbolic link" in message and "\n" not in message
    assert target.read_text() == "do not truncate me\n"


def test_a_dangling_symlinked_lock_file_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    lock_path(db).symlink_to(tmp_path / "created-through-the-link")
    with pytest.raises(InputError, match="symbolic link"):
        WarehouseLock(db, "ingest").acquire()
    assert not (tmp_path / "created-through-the-link").exists()


def test_a_symlinked_lock_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path)
    write(tmp_path / "deals.csv", DEALS)
    target = write(tmp_path / "precious.txt", "keep\n")
    lock_path(tmp_path / "w.duckdb").symlink_to(target)
    assert ingest(tmp_path) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "symbolic link" in error[0]
    assert target.read_text() == "keep\n"


# --- control characters in log lines -----------------------------------------------------------

FORGED = "Demo\n08:00:00 INFO all good\r\x1b[2K\x1b[31mred\x07\x85\u2028end"


def _record(message: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "t", "levelno": logging.WARNING, "levelname": "WARNING", "msg": "stage %s",
         "args": (message,), **extra}
    )  # fmt: skip


@pytest.mark.parametrize("event", [None, "error"])
def test_control_characters_in_a_log_line_are_escaped(event: str | None) -> None:
    extra = {"event": event} if event else {}
    line = HumanFormatter().format(_record(FORGED, **extra))
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029" for c in line)
    assert line.endswith(
        "stage Demo\\n08:00:00 INFO all good\\r\\x1b[2K\\x1b[31mred\\x07\\x85\\u2028end"
    )


def test_tabs_and_text_outside_ascii_stay_readable() -> None:
    line = HumanFormatter().format(_record("Zoë\tMüller €"))
    assert line.endswith("stage Zoë\tMüller €")


def test_a_json_log_line_escapes_control_characters() -> None:
    line = JsonFormatter().format(_record(FORGED, event="unknown_stage", stage=FORGED))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    event = json.loads(line)
    assert event["message"] == f"stage {FORGED}" and event["stage"] == FORGED


@pytest.mark.slow
def test_a_stage_name_cannot_forge_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path)
    write(
        tmp_path / "deals.csv",
        'id,stage,created,closed,value,rep\nD1,"Demo\nINFO forged",2024-01-01,,100,Ann\n',
    )
    assert ingest(tmp_path) == 0
    err = capsys.readouterr().err
    assert "Demo\\nINFO forged" in err
    assert not any(line.startswith("INFO forged") for line in err.splitlines())


# --- an unwritable warehouse location ----------------------------------------------------------


def _unwritable(tmp_path: Path, kind: str) -> Path:
    if kind == "file_as_folder":
        return write(tmp_path / "not-a-folder", "x") / "w.duckdb"
    if kind == "folder_as_file":
        (tmp_path / "w.duckdb").mkdir()
        return tmp_path / "w.duckdb"
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "sub" / "w.duckdb" if kind == "missing_subfolder" else folder / "w.duckdb"


@pytest.mark.parametrize(
    "kind", ["file_as_folder", "folder_as_file", "read_only", "missing_subfolder"]
)
def test_an_unwritable_warehouse_location_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    db = _unwritable(tmp_path, kind)
    _config(tmp_path)
    write(tmp_path / "deals.csv", DEALS)
    code = run_cli(tmp_path, "--db", str(db), "ingest")
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(error) == 1 and "Traceback" not in error[0]
    assert str(db.parent) in error[0] and "--db" in error[0]


@pytest.mark.slow
def test_a_warehouse_in_a_read_only_folder_fails_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing, writable warehouse file in a read-only folder: DuckDB could open it but not
    write its `.wal` at the first commit. (Root writes anywhere: the folder's answer is faked.)
    """
    _config(tmp_path)
    write(tmp_path / "deals.csv", DEALS)
    assert ingest(tmp_path) == 0
    real_access = os.access
    monkeypatch.setattr(
        "pipeline_analytics.warehouse.os.access",
        lambda path, mode: False if Path(path) == tmp_path else real_access(path, mode),
    )
    capsys.readouterr()
    assert run_cli(tmp_path, "build") == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"{tmp_path / 'w.duckdb'}" in error[0] and "read-only" in error[0]


def test_an_output_folder_that_cannot_be_made_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = write(tmp_path / "a-file", "x") / "sample"
    assert main(["sample", "--out", str(blocked), "--deals", "10"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and str(tmp_path / "a-file") in error[0]
    assert "unexpected" not in error[0]
