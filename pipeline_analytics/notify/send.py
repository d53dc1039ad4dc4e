"""One digest per run: find the alerts, store them, compose the message, send it on every channel.

A failed send never fails the command: it is logged, recorded in `notifications`, and its alerts
stay undelivered in `alerts`, so the next digest (the next run) carries them again, marked with the
run that found them. An undelivered alert the new digest finds again (same rule and subject) is
replaced by the new one. A dry run stores nothing and sends nothing: it returns the message.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import NotifySettings
from pipeline_analytics.notify.alerts import Alert, AlertInputs, find_alerts
from pipeline_analytics.notify.channels import DeliveryFailed, post_webhook, send_email
from pipeline_analytics.notify.digest import Attachment, Digest, compose, read_summary
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction
from pipeline_analytics.workbook import write_workbook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestRequest:
    """What a digest needs besides the warehouse."""

    settings: NotifySettings
    report_html: Path  # the latest report (report/render.py writes latest.html)
    stale_after_days: int
    rows_rejected: int | None  # by this run's ingest; None: read the latest ingest's from `runs`
    now: datetime | None = None  # naive UTC; None: now


@dataclass(frozen=True)
class DigestOutcome:
    digest: Digest
    sent: tuple[str, ...]  # channels that delivered it
    failed: tuple[str, ...]  # "<channel>: <why>" of each that did not

    @property
    def note(self) -> str:
        """One line for the step's run_steps row."""
        alerts = f"{len(self.digest.alerts)} alert(s)"
        if not self.failed:
            return f"digest sent ({', '.join(self.sent)}), {alerts}"
        done = f"; sent by {', '.join(self.sent)}" if self.sent else ""
        return (
            f"digest not delivered ({'; '.join(self.failed)}){done}; its {alerts} go with the "
            "next digest"
        )


CHANNELS: dict[str, Callable[[Digest, NotifySettings], None]] = {
    "email": send_email,
    "webhook": post_webhook,
}


def configured_channels(settings: NotifySettings) -> list[str]:
    return [
        name
        for name, wanted in (("email", settings.smtp_host), ("webhook", settings.webhook_url))
        if wanted
    ]


def prepare_digest(
    con: duckdb.DuckDBPyConnection, request: DigestRequest, *, store: bool
) -> Digest:
    """Find the alerts (stored when `store`), and compose the digest with its attachments."""
    now = request.now or datetime.now(UTC).replace(tzinfo=None)
    params = _build_params(con)
    fmt = Formatter(currency=params[0] if params else "USD")
    runs = con.execute(sql_statement("notify/latest_base_runs")).fetchall()
    run = (runs[0][0], runs[0][1]) if runs else None
    rows_rejected = request.rows_rejected
    if rows_rejected is None:
        latest = con.execute(sql_statement("notify/latest_ingest_rejects")).fetchall()
        rows_rejected = int(latest[0][1]) if latest else None
    inputs = AlertInputs(
        run=run[0] if run else None,
        previous=runs[1][0] if len(runs) > 1 else None,
        now=now,
        stale_after_days=request.stale_after_days,
        rows_rejected=rows_rejected,
        fmt=fmt,
    )
    fresh = find_alerts(con, inputs)
    earlier = _undelivered(con)
    if store:
        _store_alerts(con, fresh, inputs.run, now)
    keys = {(a.rule, a.subject) for a in fresh}
    carried = tuple(
        (alert, _found_by(run_id))
        for alert, run_id in earlier
        if (alert.rule, alert.subject) not in keys
    )
    attachments, missing = _attachments(con, request, params)
    summary = read_summary(con, run, params[1] if params else 1)
    return compose(summary, tuple((a, None) for a in fresh) + carried, attachments, missing, fmt)


def send_digest(con: duckdb.DuckDBPyConnection, request: DigestRequest) -> DigestOutcome:
    """Prepare, store and send the digest; a channel's failure is recorded, never raised."""
    digest = prepare_digest(con, request, store=True)
    now = request.now or datetime.now(UTC).replace(tzinfo=None)
    run_id = _current_command(con)
    sent, failed = [], []
    for channel in configured_channels(request.settings):
        try:
            CHANNELS[channel](digest, request.settings)
        except DeliveryFailed as exc:
            failed.append(f"{channel}: {exc}")
            log.warning(
                "notify: %s; the digest's alerts go with the next one",
                exc,
                extra={"event": "notify_failed", "channel": channel},
            )
            status, error = "failed", str(exc)
        else:
            sent.append(channel)
            status, error = "sent", None
        con.execute(
            sql_statement("notify/notification_insert"),
            {
                "run_id": run_id,
                "channel": channel,
                "now": now,
                "status": status,
                "subject": digest.subject,
                "alerts": len(digest.alerts),
                "error": error,
            },
        )
    if not failed:
        con.execute(sql_statement("notify/alerts_delivered"), {"now": now})
    return DigestOutcome(digest, tuple(sent), tuple(failed))


def _found_by(run_id: int | None) -> str:
    where = f"run #{run_id}" if run_id is not None else "an earlier digest"
    return f"found by {where}, not delivered then"


def _build_params(con: duckdb.DuckDBPyConnection) -> tuple[str, int, datetime] | None:
    rows = con.execute(
        "select currency, fiscal_year_start_month, as_of from build_params"
    ).fetchall()
    if len(rows) != 1:
        return None
    currency, fiscal_start, as_of = rows[0]
    return str(currency or "USD"), int(fiscal_start or 1), as_of


def _current_command(con: duckdb.DuckDBPyConnection) -> int | None:
    rows = con.execute(sql_statement("notify/current_command")).fetchall()
    return rows[0][0] if rows else None


def _undelivered(con: duckdb.DuckDBPyConnection) -> list[tuple[Alert, int]]:
    rows = con.execute(sql_statement("notify/undelivered_alerts")).fetchall()
    return [(Alert(*row[2:6]), row[0]) for row in rows]


def _store_alerts(
    con: duckdb.DuckDBPyConnection, alerts: list[Alert], forecast_run: int | None, now: datetime
) -> None:
    run_id = _current_command(con)
    with transaction(con):
        for a in alerts:
            con.execute(
                sql_statement("notify/alert_insert"),
                {
                    "run_id": run_id,
                    "forecast_run_id": forecast_run,
                    "rule": a.rule,
                    "subject": a.subject,
                    "fired": a.fired,
                    "why": a.why,
                    "now": now,
                },
            )


def _attachments(
    con: duckdb.DuckDBPyConnection,
    request: DigestRequest,
    params: tuple[str, int, datetime] | None,
) -> tuple[tuple[Attachment, ...], tuple[str, ...]]:
    """The configured attachments, and a line for each that cannot be made, saying why."""
    wanted = request.settings.attach
    day = f"{params[2]:%Y-%m-%d}" if params else "unbuilt"
    found: list[Attachment] = []
    missing: list[str] = []
    if "html" in wanted:
        if request.report_html.is_file():
            found.append(
                Attachment(
                    f"pipeline-report-{day}.html",
                    request.report_html.read_bytes(),
                    "text",
                    "html",
                )
            )
        else:
            missing.append(
                f"No report attached: {request.report_html} does not exist yet; "
                "`pipeline-analytics report` writes it."
            )
    if "xlsx" in wanted:
        with tempfile.TemporaryDirectory(prefix="pipeline-digest-") as folder:
            path = Path(folder) / f"pipeline-workbook-{day}.xlsx"
            write_workbook(con, path)
            found.append(
                Attachment(
                    path.name,
                    path.read_bytes(),
                    "application",
                    "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
            )
    return tuple(found), tuple(missing)
