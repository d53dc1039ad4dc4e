"""Lines of SQL left in Python strings: multi-line string literals and f-strings that read as SQL.

`python -m tests.sql_in_python` prints the count per file. A string reads as SQL when it holds a
SELECT ... FROM, or starts a statement that writes (insert, update, delete, create, alter, drop).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline_analytics"
READS_AS_SQL = re.compile(
    r"\bselect\b[\s\S]*\bfrom\b|\binsert\s+into\b|\bupdate\s+\S+\s+set\b|\bdelete\s+from\b"
    r"|\bcreate\s+(or\s+replace\s+)?(temp\s+|temporary\s+)?(table|view|index|sequence|type)\b"
    r"|\balter\s+table\b|\bdrop\s+(table|view)\b",
    re.IGNORECASE,
)


def sql_lines(path: Path) -> int:
    """Lines of the multi-line strings in `path` that read as SQL (each string counted once)."""
    source = path.read_text(encoding="utf-8")
    spans: set[tuple[int, int]] = set()
    for node in ast.walk(ast.parse(source)):
        is_text = isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and isinstance(node.value, str)
        )
        if not is_text or node.end_lineno is None or node.end_lineno == node.lineno:
            continue
        segment = ast.get_source_segment(source, node) or ""
        if READS_AS_SQL.search(segment):
            spans.add((node.lineno, node.end_lineno))
    # A string nested in another (an f-string's parts) is counted with its outer string.
    outer = {s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)}
    return sum(end - start + 1 for start, end in outer)


def count(package: Path = PACKAGE) -> dict[str, int]:
    found = {
        str(p.relative_to(package.parent)): sql_lines(p) for p in sorted(package.rglob("*.py"))
    }
    return {path: lines for path, lines in found.items() if lines}


if __name__ == "__main__":
    counts = count()
    for path, lines in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"{lines:5d} {path}")
    print(f"{sum(counts.values()):5d} total", file=sys.stderr)
