"""The digest's words: subject, plain-text and HTML bodies, from the forecast tables and alerts.

The executive summary reads the latest base forecast run: the fiscal quarter and year holding its
as_of (P50 and the P10-P90 band of the headline) and the company-wide targets still open (P(hit),
coverage, closed to date). The digest is in English, whatever the report's language.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from pipeline_analytics.notify.alerts import Alert
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.sql_files import sql_statement


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


@dataclass(frozen=True)
class PeriodLine:
    """One line of the executive summary: a period's forecast and, when set, its target."""

    kind: str  # 'quarter' | 'year'
    label: str  # "2026-Q4", "2027"
    p10: float | None
    p50: float | None
    p90: float | None
    complete: bool
    target: float | None = None
    p_hit: float | None = None
    coverage: float | None = None
    closed_to_date: float | None = None


@dataclass(frozen=True)
class Summary:
    run_id: int | None
    as_of: datetime | None
    periods: tuple[PeriodLine, ...] = ()
    other_targets: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    alerts: tuple[tuple[Alert, str | None], ...]  # each with a note: from an earlier run, or None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


def period_label(kind: str, start: date, fiscal_year_start_month: int) -> str:
    """The period as [[targets]] writes it: fiscal quarter "2026-Q4" or fiscal year "2026", the
    fiscal year named by the calendar year it ends in."""
    months_in = (start.month - fiscal_year_start_month) % 12
    start_year = start.year if start.month >= fiscal_year_start_month else start.year - 1
    fiscal_year = start_year if fiscal_year_start_month == 1 else start_year + 1
    return str(fiscal_year) if kind == "year" else f"{fiscal_year}-Q{months_in // 3 + 1}"


def _rows(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]
) -> list[dict[str, object]]:
    result = con.execute(sql_statement(f"notify/{name}"), params)
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, values, strict=True)) for values in result.fetchall()]


def read_summary(
    con: duckdb.DuckDBPyConnection, run: tuple[int, datetime] | None, fiscal_year_start_month: int
) -> Summary:
    if run is None:
        return Summary(None, None)
    run_id, as_of = run
    targets = _rows(con, "digest_targets", {"run": run_id})
    lines = []
    for p in _rows(con, "digest_periods", {"run": run_id}):
        kind, start = str(p["period"]), p["period_start"]
        assert isinstance(start, date)
        target = next(
            (t for t in targets if t["period_kind"] == kind and t["period_start"] == start), None
        )
        lines.append(
            PeriodLine(
                kind=kind,
                label=str(target["period"])
                if target
                else period_label(kind, start, fiscal_year_start_month),
                p10=_number(p["p10"]),
                p50=_number(p["p50"]),
                p90=_number(p["p90"]),
                complete=bool(p["complete"]),
                target=_number(target["target"]) if target else None,
                p_hit=_number(target["p_hit"]) if target else None,
                coverage=_number(target["coverage"]) if target else None,
                closed_to_date=_number(target["closed_to_date"]) if target else None,
            )
        )
    shown = {(line.kind, line.label) for line in lines}
    others = tuple(t for t in targets if (t["period_kind"], t["period"]) not in shown)
    return Summary(run_id, as_of, tuple(lines), others)


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def subject(summary: Summary, fmt: Formatter) -> str:
    """ "Pipeline digest 2026-Q4: P50 $1.23M, P(hit) 48%" (P(hit) only when a target is set)."""
    quarter = next((p for p in summary.periods if p.kind == "quarter"), None)
    if summary.run_id is None or quarter is None:
        return "Pipeline digest: no forecast stored yet"
    text = f"Pipeline digest {quarter.label}: P50 {fmt.money_compact(quarter.p50)}"
    if quarter.p_hit is not None:
        text += f", P(hit) {fmt.percent(quarter.p_hit, 0)}"
    return text


def summary_lines(summary: Summary, fmt: Formatter) -> list[str]:
    if summary.run_id is None or summary.as_of is None:
        return [
            "No base forecast run is stored yet: `pipeline-analytics forecast` (or `run`) "
            "writes one."
        ]
    lines = [f"Base forecast run #{summary.run_id}, as of {summary.as_of:%Y-%m-%d %H:%M} UTC."]
    for p in summary.periods:
        name = "Fiscal quarter" if p.kind == "quarter" else "Fiscal year"
        line = (
            f"{name} {p.label}: P50 {fmt.money(p.p50)} "
            f"(P10 {fmt.money(p.p10)} to P90 {fmt.money(p.p90)})"
        )
        if not p.complete:
            line += ", beyond the forecast horizon in part (the rest is not in the sum)"
        if p.target is not None:
            line += (
                f"; target {fmt.money(p.target)}, closed to date {fmt.money(p.closed_to_date)}, "
                f"P(hit) {_p_hit(p.p_hit, fmt)}, coverage {_coverage(p.coverage, fmt)}"
            )
        else:
            line += "; no target set for it"
        lines.append(line + ".")
    for t in summary.other_targets:
        p50 = "" if t["p50"] is None else f", P50 {fmt.money(t['p50'])}"
        lines.append(
            f"Target {t['period']}: {fmt.money(t['target'])}{p50}, "
            f"P(hit) {_p_hit(_number(t['p_hit']), fmt)}, "
            f"coverage {_coverage(_number(t['coverage']), fmt)}."
        )
    return lines


def _p_hit(value: float | None, fmt: Formatter) -> str:
    # forecast_targets leaves p_hit NULL when the period lies beyond the forecast horizon
    return (
        "not measured (the period ends beyond the forecast horizon)"
        if value is None
        else (fmt.percent(value, 0))
    )


def _coverage(value: float | None, fmt: Formatter) -> str:
    # coverage is NULL when nothing remains to book (the target is met)
    return "none needed (target met)" if value is None else f"{fmt.number(value, 1)}x"


def alert_lines(alerts: tuple[tuple[Alert, str | None], ...]) -> list[str]:
    return [
        f"[{a.rule}] {a.subject}: {a.fired}. Why: {a.why}." + (f" [{note}]" if note else "")
        for a, note in alerts
    ]


def compose(
    summary: Summary,
    alerts: tuple[tuple[Alert, str | None], ...],
    attachments: tuple[Attachment, ...],
    missing: tuple[str, ...],
    fmt: Formatter,
) -> Digest:
    """The message: `missing` says which configured attachments could not be made, and why."""
    head = summary_lines(summary, fmt)
    listed = alert_lines(alerts)
    attached = [a.filename for a in attachments]
    text_parts = [
        "Executive summary",
        *(f"- {line}" for line in head),
        "",
        f"Alerts ({len(alerts)})",
        *([f"- {line}" for line in listed] or ["- none"]),
    ]
    if attached or missing:
        text_parts += ["", "Attached: " + (", ".join(attached) or "nothing"), *missing]
    page = [
        "<h2>Executive summary</h2>",
        "<ul>",
        *(f"<li>{html.escape(line)}</li>" for line in head),
        "</ul>",
        f"<h2>Alerts ({len(alerts)})</h2>",
        "<ul>",
        *([f"<li>{html.escape(line)}</li>" for line in listed] or ["<li>none</li>"]),
        "</ul>",
    ]
    if attached or missing:
        page.append(
            f"<p>Attached: {html.escape(', '.join(attached) or 'nothing')}</p>"
            + "".join(f"<p>{html.escape(m)}</p>" for m in missing)
        )
    return Digest(
        subject=subject(summary, fmt),
        text="\n".join(text_parts) + "\n",
        html="<!doctype html><html><body>" + "\n".join(page) + "</body></html>\n",
        alerts=alerts,
        attachments=attachments,
    )
