"""The digest (issue 17): each alert rule on a hand fixture, the message a local SMTP server
(aiosmtpd) receives with its attachments, the webhook a local HTTP server receives, a failed send
retried by the next run without failing either run, and the dry run."""

from __future__ import annotations

import email
import email.policy
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline_analytics.config import NotifySettings
from pipeline_analytics.notify.alerts import AlertInputs, find_alerts
from pipeline_analytics.notify.digest import period_label
from pipeline_analytics.notify.send import DigestRequest, prepare_digest, send_digest
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.warehouse import connect
from tests.conftest import run_cli, write
from tests.run_fixtures import new_folder, query, write_export

NOW = datetime(2026, 12, 2, 12, 0)  # 4.5 days after the fixture's newest snapshot


# --- a hand fixture: two base runs and a scenario run ---------------------------------------------


def _fixture(path: Path) -> duckdb.DuckDBPyConnection:
    """Base run #1 (as of Nov 1), base run #2 (as of Dec 1), scenario run #3 (newest, ignored).

    Targets: company 2026-Q4 P(hit) 0.60 -> 0.50 (exactly 10 points: fires), coverage 2.5
    (fires); Ann's 2026-Q4 0.40 -> 0.31 (9 points: quiet), coverage 3.0 (not under 3: quiet);
    month 2026-11 ended at run #2's as_of (coverage 0.5, but over: quiet); year 2026 target met
    (coverage NULL: quiet); 2027-Q4 lies beyond the horizon (P(hit) NULL: quiet).
    Deals D01..D12 of run #1, amounts 1200 down to 100, and D00 at 5000 imputed (left out): the
    top 10 are D01..D10. Now D01 is lost, D02 pushed, D03 pushed and
    cut, D04 won, D05 raised, D06 pulled in, D11 (not top 10) lost.
    """
    con = connect(path)
    con.execute(
        "insert into build_params (as_of, lookback_days, currency, built_at, "
        "fiscal_year_start_month) values ('2026-12-01', 365, 'USD', '2026-12-01', 1)"
    )
    con.execute(
        "insert into forecast_runs (run_id, as_of, created_at, scenario) values "
        "(1, '2026-11-01', '2026-11-01 06:00', null), (2, '2026-12-01', '2026-12-01 06:00', null),"
        " (3, '2026-12-01', '2026-12-01 07:00', 'lose_d01')"
    )
    con.execute(
        "insert into forecast_targets (run_id, period, period_kind, period_start, period_end, "
        "owner, pipeline, target, closed_to_date, remaining, open_pipeline, p50, p_hit, coverage)"
        " values "
        "(1, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', null, null, 1000, 700, 300, 900,"
        " 1010, 0.60, 3.0),"
        "(2, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', null, null, 1000, 800, 200, 500,"
        " 1000, 0.50, 2.5),"
        "(1, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', 'Ann', null, 400, 0, 400, 1200,"
        " 380, 0.40, 3.0),"
        "(2, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', 'Ann', null, 400, 0, 400, 1200,"
        " 370, 0.31, 3.0),"
        "(2, '2026-11', 'month', '2026-11-01', '2026-12-01', null, null, 500, 450, 50, 25,"
        " 450, 0, 0.5),"
        "(2, '2026', 'year', '2026-01-01', '2027-01-01', null, null, 3000, 3100, 0, 500,"
        " 3300, 1, null),"
        "(2, '2027-Q4', 'quarter', '2027-10-01', '2028-01-01', null, null, 2000, 0, 2000, 8000,"
        " null, null, 4.0),"
        "(3, '2026-Q4', 'quarter', '2026-10-01', '2027-01-01', null, null, 1000, 800, 200, 100,"
        " 820, 0.05, 0.5)"
    )
    con.execute(
        "insert into forecast_periods (run_id, period, period_start, months_forecast, complete, "
        "component, mean, p10, p50, p90) values "
        "(2, 'quarter', '2026-10-01', 3, true, 'total', 990, 850, 980, 1150),"
        "(2, 'quarter', '2026-10-01', 3, true, 'headline', 1001, 870, 1000, 1130),"
        "(2, 'quarter', '2027-01-01', 3, true, 'headline', 500, 300, 480, 700),"
        "(2, 'year', '2026-01-01', 12, true, 'headline', 3300, 3200, 3300, 3400)"
    )
    amounts = {f"D{i:02d}": 1300.0 - 100 * i for i in range(1, 13)}
    con.executemany(
        "insert into forecast_deals (run_id, source, deal_id, amount_base, amount_imputed) "
        "values (1, 'crm', ?, ?, false)",
        list(amounts.items()),
    )
    con.execute(
        "insert into forecast_deals (run_id, source, deal_id, amount_base, amount_imputed) "
        "values (1, 'crm', 'D00', 5000, true)"
    )
    now = {  # deal: (status, amount, close date)
        "D01": ("lost", 1200, "2026-12-20"),
        "D02": ("open", 1100, "2027-01-20"),
        "D03": ("open", 900, "2027-02-01"),
        "D04": ("won", 900, "2026-11-20"),
        "D05": ("open", 1500, "2026-12-20"),
        "D06": ("open", 700, "2026-11-25"),
        "D11": ("lost", 200, "2026-12-20"),
    }
    for deal, amount in amounts.items():
        status, current, close = now.get(deal, ("open", amount, "2026-12-20"))
        con.execute(
            "insert into deals (source, deal_id, name, owner, status, amount_base, "
            "expected_close_date) values ('crm', ?, ?, 'Ann', ?, ?, ?)",
            [deal, f"Deal {deal}", status, current, close],
        )
        con.execute(
            "insert into deal_snapshots (snapshot_at, source, deal_id, status, amount_base, "
            "expected_close_date) values ('2026-10-31', 'crm', ?, 'open', ?, '2026-12-20')",
            [deal, amount],
        )
    # D02's close date: 2026-11-15 on Oct 1, 2026-12-15 on Oct 31 (the one before run #1's as_of
    # that counts), then 2027-01-20 after it.
    con.execute("delete from deal_snapshots where deal_id = 'D02'")
    con.execute(
        "insert into deal_snapshots (snapshot_at, source, deal_id, status, expected_close_date) "
        "values ('2026-10-01', 'crm', 'D02', 'open', '2026-11-15'), "
        "('2026-10-31', 'crm', 'D02', 'open', '2026-12-15'), "
        "('2026-11-15', 'crm', 'D02', 'open', '2027-01-20')"
    )
    con.execute(
        "insert into ingest_batches (batch_id, snapshot_at, status) values "
        "(1, '2026-11-20', 'loaded'), (2, '2026-11-28', 'loaded'), (3, '2026-12-02', 'failed')"
    )
    return con


def _inputs(**changes: object) -> AlertInputs:
    values: dict[str, object] = {
        "run": 2,
        "previous": 1,
        "now": NOW,
        "stale_after_days": 3,
        "rows_rejected": 7,
        "fmt": Formatter(currency="USD"),
    }
    return AlertInputs(**(values | changes))  # type: ignore[arg-type]


@pytest.fixture
def fixture_db(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = _fixture(tmp_path / "w.duckdb")
    yield con
    con.close()


def test_each_rule_fires_where_the_hand_fixture_says(fixture_db: duckdb.DuckDBPyConnection):
    alerts = find_alerts(fixture_db, _inputs())
    fired = [(a.rule, a.subject) for a in alerts]
    assert fired == [
        ("p_hit_moved", "target 2026-Q4"),
        ("top_deal_lost", "deal Deal D01 (crm D01, owner Ann)"),
        ("top_deal_pushed", "deal Deal D02 (crm D02, owner Ann)"),
        ("top_deal_cut", "deal Deal D03 (crm D03, owner Ann)"),
        ("top_deal_pushed", "deal Deal D03 (crm D03, owner Ann)"),
        ("low_coverage", "target 2026-Q4"),
        ("stale_data", "newest export"),
        ("rows_rejected", "latest ingest"),
    ]
    by_rule = {(a.rule, a.subject): a for a in alerts}
    assert by_rule[("p_hit_moved", "target 2026-Q4")].fired == "P(hit) 60% -> 50%"
    assert "10 points since base forecast run #1" in by_rule[("p_hit_moved", "target 2026-Q4")].why
    pushed = by_rule[("top_deal_pushed", "deal Deal D02 (crm D02, owner Ann)")]
    assert pushed.fired == "close date pushed from 2026-12-15 to 2027-01-20"
    cut = by_rule[("top_deal_cut", "deal Deal D03 (crm D03, owner Ann)")]
    assert cut.fired == "amount cut from $1,000 to $900"
    coverage = by_rule[("low_coverage", "target 2026-Q4")]
    assert coverage.fired == "coverage 2.5x: open pipeline $500 for $200 still to book"
    stale = by_rule[("stale_data", "newest export")]
    assert stale.fired == "snapshot 2026-11-28 00:00 UTC, 4.5 days old"  # Nov 28 to Dec 2 noon
    assert by_rule[("rows_rejected", "latest ingest")].fired == "7 input row(s) rejected"


def test_rules_stay_quiet_below_their_thresholds(fixture_db: duckdb.DuckDBPyConnection):
    alerts = find_alerts(fixture_db, _inputs(stale_after_days=5, rows_rejected=0))
    assert {a.rule for a in alerts} == {
        "p_hit_moved",
        "top_deal_lost",
        "top_deal_pushed",
        "top_deal_cut",
        "low_coverage",
    }


def test_first_run_has_nothing_to_compare(fixture_db: duckdb.DuckDBPyConnection):
    alerts = find_alerts(fixture_db, _inputs(previous=None, rows_rejected=None))
    assert [a.rule for a in alerts] == ["low_coverage", "stale_data"]


def test_the_scenario_run_is_never_the_latest(fixture_db: duckdb.DuckDBPyConnection):
    request = DigestRequest(
        NotifySettings(attach=()), Path("/nonexistent/latest.html"), 3, 0, now=NOW
    )
    digest = prepare_digest(fixture_db, request, store=False)
    # base run #2's quarter: headline P50 1000 (not total's 980), target 1000, P(hit) 50%
    assert digest.subject == "Pipeline digest 2026-Q4: P50 $1.00K, P(hit) 50%"
    assert "Base forecast run #2" in digest.text
    assert (
        "Fiscal quarter 2026-Q4: P50 $1,000 (P10 $870 to P90 $1,130); target $1,000, closed to "
        "date $800, P(hit) 50%, coverage 2.5x." in digest.text
    )
    assert (
        "Fiscal year 2026: P50 $3,300 (P10 $3,200 to P90 $3,400); target $3,000, closed to date "
        "$3,100, P(hit) 100%, coverage none needed (target met)." in digest.text
    )
    assert (
        "Target 2027-Q4: $2,000, P(hit) not measured (the period ends beyond the forecast "
        "horizon), coverage 4.0x." in digest.text
    )
    assert "Alerts (7)" in digest.text
    assert fixture_db.execute("select count(*) from alerts").fetchall() == [(0,)]


@pytest.mark.parametrize(
    ("kind", "start", "fiscal_start", "label"),
    [
        ("quarter", "2026-10-01", 1, "2026-Q4"),
        ("year", "2026-01-01", 1, "2026"),
        ("quarter", "2026-02-01", 2, "2027-Q1"),  # FY2027 runs Feb 2026 to Jan 2027
        ("quarter", "2027-01-01", 11, "2027-Q1"),  # FY2027 runs Nov 2026 to Oct 2027
        ("year", "2026-04-01", 4, "2027"),
    ],
)
def test_period_label(kind: str, start: str, fiscal_start: int, label: str) -> None:
    assert period_label(kind, datetime.fromisoformat(start).date(), fiscal_start) == label


# --- real servers ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.recipients.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        message = email.message_from_bytes(
            envelope.content,  # type: ignore[attr-defined]
            policy=email.policy.default,
        )
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


# aiosmtpd logs every connection at INFO from its server thread, which can outlive the test whose
# captured stderr the CLI's log handler writes to ("Logging error" noise); its warnings still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, object]]] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        _Hook.received.append((self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def webhook_server() -> Iterator[tuple[list[tuple[str, dict[str, object]]], int]]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Hook.received, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_send_digest_by_email_and_webhook(
    fixture_db: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    smtp_server: tuple[_Inbox, int],
    webhook_server: tuple[list[tuple[str, dict[str, object]]], int],
) -> None:
    inbox, port = smtp_server
    hooks, hook_port = webhook_server
    report = write(tmp_path / "latest.html", "<html><body>the report</body></html>")
    settings = NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        starttls=False,
        from_address="forecast@example.com",
        to=("cro@example.com", "ops@example.com"),
        webhook_url=f"http://127.0.0.1:{hook_port}/hooks/T000/secret",
    )
    outcome = send_digest(fixture_db, DigestRequest(settings, report, 3, 7, now=NOW))
    assert outcome.sent == ("email", "webhook") and outcome.failed == ()
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert inbox.recipients == [["cro@example.com", "ops@example.com"]]
    assert message["Subject"] == "Pipeline digest 2026-Q4: P50 $1.00K, P(hit) 50%"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    assert "Alerts (8)" in plain.get_content()
    assert "[top_deal_pushed] deal Deal D02" in plain.get_content()
    assert "&lt;" not in plain.get_content() and "<li>" in rich.get_content()
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert sorted(attachments) == [
        "pipeline-report-2026-12-01.html",
        "pipeline-workbook-2026-12-01.xlsx",
    ]
    assert attachments["pipeline-report-2026-12-01.html"].get_content() == report.read_text()
    workbook = openpyxl.load_workbook(
        io.BytesIO(attachments["pipeline-workbook-2026-12-01.xlsx"].get_content())
    )
    assert "forecast_targets" in workbook.sheetnames
    [(content_type, payload)] = hooks
    assert content_type == "application/json"
    assert str(payload["text"]).startswith("*Pipeline digest 2026-Q4: P50 $1.00K, P(hit) 50%*\n")
    stored = fixture_db.execute(
        "select rule, forecast_run_id, delivered_at from alerts order by rule, subject"
    ).fetchall()
    assert len(stored) == 8 and {r[1] for r in stored} == {2}
    assert all(r[2] == NOW for r in stored)
    assert fixture_db.execute(
        "select channel, status, alerts, error from notifications order by channel"
    ).fetchall() == [("email", "sent", 8, None), ("webhook", "sent", 8, None)]


def test_a_failed_send_is_recorded_and_its_alerts_go_next_time(
    fixture_db: duckdb.DuckDBPyConnection, tmp_path: Path, smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    down = NotifySettings(
        smtp_host="127.0.0.1", smtp_port=_free_port(), starttls=False, from_address="a@x.io",
        to=("b@x.io",), attach=(),
    )  # fmt: skip
    first = send_digest(fixture_db, DigestRequest(down, tmp_path / "none.html", 3, 7, now=NOW))
    assert first.sent == () and first.failed[0].startswith("email: e-mail via 127.0.0.1:")
    assert "go with the next digest" in first.note
    assert fixture_db.execute(
        "select count(*) from alerts where delivered_at is null"
    ).fetchall() == [(8,)]
    # next time: no rows rejected, so that alert is found by nobody but carried from before
    up = NotifySettings(
        smtp_host="127.0.0.1", smtp_port=port, starttls=False, from_address="a@x.io",
        to=("b@x.io",), attach=(),
    )  # fmt: skip
    second = send_digest(fixture_db, DigestRequest(up, tmp_path / "none.html", 3, 0, now=NOW))
    assert second.sent == ("email",)
    text = inbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Alerts (8)" in text  # 7 found again (replacing their undelivered copies) + 1 carried
    assert text.count("not delivered then") == 1
    assert "[rows_rejected] latest ingest: 7 input row(s) rejected" in text
    assert "[found by an earlier digest, not delivered then]" in text
    assert fixture_db.execute(
        "select count(*) from alerts where delivered_at is null"
    ).fetchall() == [(0,)]
    assert fixture_db.execute(
        "select status from notifications order by attempted_at, status"
    ).fetchall() == [("failed",), ("sent",)]


def test_a_missing_password_variable_is_a_recorded_failure(
    fixture_db: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SMTP_USER", "bot")
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
    settings = NotifySettings(
        smtp_host="127.0.0.1", smtp_port=_free_port(), starttls=False, from_address="a@x.io",
        to=("b@x.io",), smtp_user_env="DIGEST_SMTP_USER",
        smtp_password_env="DIGEST_SMTP_PASSWORD", attach=(),
    )  # fmt: skip
    outcome = send_digest(fixture_db, DigestRequest(settings, tmp_path / "x.html", 3, 0, now=NOW))
    assert "DIGEST_SMTP_PASSWORD" in outcome.failed[0]
    [(error,)] = fixture_db.execute("select error from notifications").fetchall()
    assert "DIGEST_SMTP_PASSWORD" in error


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_the_credentials_the_environment_holds(
    fixture_db: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server requires a login (allowed without TLS here); the digest logs in as the
    variables named in [notify] say, and the server takes it only with that password."""
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    inbox, port = _Inbox(), _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        monkeypatch.setenv("DIGEST_SMTP_USER", "bot")
        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "s3cret")
        settings = NotifySettings(
            smtp_host="127.0.0.1", smtp_port=port, starttls=False, from_address="a@x.io",
            to=("b@x.io",), smtp_user_env="DIGEST_SMTP_USER",
            smtp_password_env="DIGEST_SMTP_PASSWORD", attach=(),
        )  # fmt: skip
        request = DigestRequest(settings, tmp_path / "x.html", 3, 0, now=NOW)
        assert send_digest(fixture_db, request).sent == ("email",)
    finally:
        controller.stop()
    assert logins == [(b"bot", b"s3cret")]
    assert len(inbox.messages) == 1


def test_a_failed_webhook_leaves_the_alerts_undelivered(
    fixture_db: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    smtp_server: tuple[_Inbox, int],
) -> None:
    """E-mail goes, the webhook answers 500: the alerts wait for a digest that reaches both."""
    inbox, port = smtp_server
    server = HTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = NotifySettings(
            smtp_host="127.0.0.1", smtp_port=port, starttls=False, from_address="a@x.io",
            to=("b@x.io",), attach=(),
            webhook_url=f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/token123",
        )  # fmt: skip
        outcome = send_digest(fixture_db, DigestRequest(settings, tmp_path / "x", 3, 0, now=NOW))
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.sent == ("email",) and len(inbox.messages) == 1
    assert outcome.failed[0].startswith("webhook: webhook to 127.0.0.1:")
    assert "token123" not in outcome.failed[0]  # a webhook's path is its secret
    assert fixture_db.execute(
        "select count(*) from alerts where delivered_at is null"
    ).fetchall() == [(7,)]


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.send_response(500)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


# --- config ---------------------------------------------------------------------------------------

BASE = '[[sources]]\nname = "c"\nadapter = "generic"\npath = "d.csv"\n'


@pytest.mark.parametrize(
    ("notify", "key"),
    [
        ('smtp_host = "h"\nfrom = "a@x.io"\nto = ["b@x.io"]\nsmtp_password = "hunter2"',
         "notify.smtp_password"),
        ('smtp_host = "h"\nto = ["b@x.io"]', "notify.from"),
        ('smtp_host = "h"\nfrom = "a@x.io"', "notify.to"),
        ('webhook_url = "ftp://x"', "notify.webhook_url"),
        ('webhook_url = "https://x"\nattach = ["pdf"]', "notify.attach"),
        ('webhook_url = "https://x"\nsmtp_port = 0', "notify.smtp_port"),
        ('webhook_url = "https://x"\nsmtp_password_env = "$PW"', "notify.smtp_password_env"),
        ("starttls = true", "notify"),
    ],
)  # fmt: skip
def test_notify_config_errors_name_the_key(
    tmp_path: Path, notify: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "p.toml", BASE + "[notify]\n" + notify + "\n")
    assert run_cli(tmp_path, "notify", "--dry-run") == 2
    assert f"key '{key}'" in capsys.readouterr().err


def test_notify_without_a_notify_table_is_a_config_error(tmp_path: Path, capsys) -> None:
    write(tmp_path / "p.toml", BASE)
    assert run_cli(tmp_path, "notify") == 2
    assert "no [notify] table" in capsys.readouterr().err


# --- end to end: `run` sends the digest --------------------------------------------------------

NOTIFY_TABLE = """
[notify]
smtp_host = "127.0.0.1"
smtp_port = {port}
starttls = false
from = "forecast@example.com"
to = ["cro@example.com"]
"""


@pytest.mark.slow
def test_run_sends_one_digest_and_retries_after_a_failed_send(
    tmp_path: Path, smtp_server: tuple[_Inbox, int], capsys: pytest.CaptureFixture[str]
) -> None:
    inbox, port = smtp_server
    folder = new_folder(tmp_path / "scheduled")
    config = (folder / "p.toml").read_text()
    # night 1: the mail server is down (nothing listens on the port); a row is rejected
    (folder / "p.toml").write_text(config + NOTIFY_TABLE.format(port=_free_port()))
    export = write_export(folder, datetime(2026, 9, 30, 23, 0))
    with export.deals_file.open("a") as fh:
        fh.write(",".join(["BAD"] + ["not-a-date"] * (len(export.deals.columns) - 1)) + "\n")
    assert run_cli(folder, "run") == 0
    assert inbox.messages == []
    [(status,)] = query(folder, "select status from notifications")
    assert status == "failed"
    rejected = query(folder, "select rows_rejected from runs where command = 'run'")[0][0]
    assert rejected >= 1
    [(step, step_status, note)] = query(
        folder, "select step, status, message from run_steps where step = 'notify'"
    )
    assert step_status == "succeeded" and "not delivered" in note

    # dry run: prints the message, sends and stores nothing
    capsys.readouterr()
    assert run_cli(folder, "notify", "--dry-run") == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Subject: Pipeline digest 2026-Q")
    assert "Attachment: pipeline-workbook-" in printed
    assert query(folder, "select count(*) from notifications") == [(1,)]

    # night 2: the server is up; one message, the report and workbook attached, night 1's
    # rejected-rows alert carried
    (folder / "p.toml").write_text(config + NOTIFY_TABLE.format(port=port))
    write_export(folder, datetime(2026, 10, 31, 23, 0))
    assert run_cli(folder, "run") == 0
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    [(quarter_p50,)] = query(
        folder,
        "select p50 from forecast_periods where run_id = (select max(run_id) from forecast_runs)"
        " and period = 'quarter' and component = 'headline' order by period_start limit 1",
    )
    assert message["Subject"] == (
        f"Pipeline digest 2026-Q4: P50 {Formatter(currency='USD').money_compact(quarter_p50)}"
    )
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert names == ["pipeline-report-2026-10-31.html", "pipeline-workbook-2026-10-31.xlsx"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "[rows_rejected] latest ingest" in text and "not delivered then" in text
    assert query(folder, "select count(*) from alerts where delivered_at is null") == [(0,)]
