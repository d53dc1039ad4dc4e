"""9. Data quality: the files loaded (mart_files_loaded), what ingest rejected
(mart_reject_reasons) and what mart_data_quality found."""

from __future__ import annotations

import duckdb

from pipeline_analytics.report.data import fetch, unavailable_reason
from pipeline_analytics.report.i18n import check_explanation
from pipeline_analytics.report.model import (
    Block,
    Cell,
    Column,
    Heading,
    Note,
    ReportContext,
    Section,
    Table,
)

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
CHECK_COLUMNS = ("check_name", "severity", "deals_affected", "sample_ids", "explanation")


def quality_section(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> Section:
    t = ctx.t
    key, title = "quality", t("Data quality")
    blocks: list[Block] = [Heading(t("Files loaded"))]
    blocks += ingest_blocks(con, ctx)
    blocks += reject_blocks(con, ctx)
    blocks.append(Heading(t("Checks")))
    blocks += check_blocks(con, ctx)
    intro = t(
        "How much of the export could be used and what looks wrong in it. Errors change the "
        "numbers above; warnings are worth fixing in the CRM; information explains a choice."
    )
    return Section(key, title, intro=intro, blocks=tuple(blocks))


FILES_COLUMNS = ("files", "rows_read", "rows_loaded", "rows_rejected")


def ingest_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    reason = unavailable_reason(con, t, "mart_files_loaded", FILES_COLUMNS)
    if reason:
        return [Note(reason, "unavailable")]
    totals = fetch(con, f"select {', '.join(FILES_COLUMNS)} from mart_files_loaded")[0]
    # When is load bookkeeping, not a figure of the data: no mart holds it (see mart_files_loaded).
    last_loaded = fetch(
        con, "select max(finished_at) as at from ingest_batches where status = 'loaded'"
    )
    if not totals["files"]:
        return [Note(t("No file has been loaded yet."), "unavailable")]
    text = t(
        "{files} files loaded, the last on {date}: {loaded} of {read} rows used, {rejected} "
        "rejected (`pipeline-analytics rejects` lists each with its line and reason).",
        files=fmt.count(totals["files"]),
        date=fmt.date(last_loaded[0]["at"]),
        loaded=fmt.count(totals["rows_loaded"]),
        read=fmt.count(totals["rows_read"]),
        rejected=fmt.count(totals["rows_rejected"]),
    )
    return [Note(text)]


REJECT_COLUMNS = ("column_name", "reason", "rejected_rows", "files")
WHOLE_LINE = "(whole line)"  # mart_rejects' column for a line that could not be split
REJECTS_SQL = "select * from mart_reject_reasons order by rejected_rows desc, column_name, reason"


def reject_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    """Rejected rows by column and kind of reason (mart_reject_reasons); nothing when none was
    rejected."""
    t, fmt = ctx.t, ctx.fmt
    if unavailable_reason(con, t, "mart_reject_reasons", REJECT_COLUMNS):
        return []  # an older build, or no row rejected: the files line above says how many
    groups = fetch(con, REJECTS_SQL)
    columns = (
        Column(t("Column"), numeric=False),
        Column(t("Reason (values shown as …)"), numeric=False),
        Column(t("Rows rejected")),
        Column(t("Files")),
    )
    rows = tuple(
        (
            Cell(t("(whole line)") if g["column_name"] == WHOLE_LINE else g["column_name"]),
            Cell(g["reason"]),
            Cell(fmt.count(g["rejected_rows"]), g["rejected_rows"]),
            Cell(fmt.count(g["files"]), g["files"]),
        )
        for g in groups
    )
    return [Heading(t("Rejected rows by reason")), Table(columns, rows, sortable=True)]


# Errors first, then warnings, then information; within each, the most deals affected first.
CHECKS_SQL = (
    "select * from mart_data_quality order by case severity when 'error' then 0 "
    "when 'warning' then 1 else 2 end, deals_affected desc, check_name"
)


def check_blocks(con: duckdb.DuckDBPyConnection, ctx: ReportContext) -> list[Block]:
    t, fmt = ctx.t, ctx.fmt
    reason = unavailable_reason(con, t, "mart_data_quality", CHECK_COLUMNS)
    if reason:
        return [Note(reason, "unavailable")]
    checks = fetch(con, CHECKS_SQL)
    severity = {"error": t("error"), "warning": t("warning"), "info": t("information")}
    columns = (
        Column(t("Check"), numeric=False),
        Column(t("Severity"), numeric=False),
        Column(t("Deals affected")),
        Column(t("Examples (deal ids)"), numeric=False),
    )
    rows = tuple(
        (
            Cell(check_explanation(ctx.t, c["check_name"], c["explanation"])),
            Cell(
                severity.get(c["severity"], c["severity"]),
                SEVERITY_ORDER.get(c["severity"], 3),
                flag="●" if c["deals_affected"] and c["severity"] == "error" else None,
            ),
            Cell(fmt.count(c["deals_affected"]), c["deals_affected"]),
            Cell(sample_text(c["sample_ids"])),
        )
        for c in checks
    )
    failing = sum(1 for c in checks if c["deals_affected"])
    summary = t(
        "{failing} of {checks} checks found something.",
        failing=fmt.count(failing),
        checks=fmt.count(len(checks)),
    )
    return [Note(summary), Table(columns, rows, sortable=True)]


def sample_text(sample_ids: object) -> str:
    """Sample ids as stored (a list or a comma-separated string), at most five shown."""
    if sample_ids is None:
        return "—"
    ids = (
        [str(i) for i in sample_ids]
        if isinstance(sample_ids, list | tuple)
        else [s.strip() for s in str(sample_ids).split(",") if s.strip()]
    )
    return ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "") if ids else "—"
