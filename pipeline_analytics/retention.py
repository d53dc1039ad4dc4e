"""Report retention: keep the newest N dated reports, and clear what a killed report write left.

Only files in the report folder are ever deleted; the warehouse keeps its whole history (batches,
snapshots, runs, forecast runs), which is what the reports are rebuilt from.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

# render_report writes pipeline-report-<as_of date>.html, so names sort by date.
DATED_REPORT = re.compile(r"^pipeline-report-\d{4}-\d{2}-\d{2}\.html$")
# write_atomically's temp files: `.<final name>.<random>.tmp` beside the final file.
UNFINISHED_WRITE = re.compile(r"^\.(pipeline-report-\d{4}-\d{2}-\d{2}|latest)\.html\..+\.tmp$")


def prune_reports(output_dir: Path, keep: int) -> list[Path]:
    """Delete dated reports beyond the newest `keep` (0 keeps all) and orphaned temp files.

    Call it while holding the warehouse lock: a temp file then belongs to a writer that died.
    """
    if not output_dir.is_dir():
        return []
    names = sorted(p.name for p in output_dir.iterdir() if p.is_file())
    unfinished = [output_dir / n for n in names if UNFINISHED_WRITE.match(n)]
    dated = [output_dir / n for n in names if DATED_REPORT.match(n)]
    expired = dated[:-keep] if keep > 0 else []
    for path in unfinished + expired:
        path.unlink(missing_ok=True)
    if unfinished:
        log.info(
            "removed %d unfinished report file(s) left by an interrupted run",
            len(unfinished),
            extra={"event": "report_temp_removed", "paths": [str(p) for p in unfinished]},
        )
    if expired:
        log.info(
            "removed %d dated report(s) beyond the newest %d ([run] keep_reports)",
            len(expired),
            keep,
            extra={"event": "reports_pruned", "paths": [str(p) for p in expired]},
        )
    return unfinished + expired
