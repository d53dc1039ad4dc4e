"""All SQL lives in sql/: at most 300 lines of it may remain inside Python strings (issue 15)."""

from __future__ import annotations

from pathlib import Path

from tests.sql_in_python import count, sql_lines

LIMIT = 300


def test_at_most_300_lines_of_sql_remain_in_python_strings() -> None:
    counts = count()
    worst = sorted(counts.items(), key=lambda item: -item[1])[:5]
    assert sum(counts.values()) <= LIMIT, f"{sum(counts.values())} lines; most in {worst}"


def test_the_count_takes_multi_line_sql_strings_only(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        'ONE_LINE = "select a from b"\n'  # one line: not counted
        'QUERY = """\n    select a\n    from b\n"""\n'  # 4 lines
        'PROSE = """Read this\n    from the top.\n"""\n'  # no select: not counted
        'name = "t"\nWRITE = f"""\n    insert into {name}\n    values (1)\n"""\n',  # 4 lines
        encoding="utf-8",
    )
    assert sql_lines(module) == 8
