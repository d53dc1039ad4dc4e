"""Delivering a digest: e-mail over SMTP (STARTTLS, login from environment variables) and a
Slack-compatible webhook (`{"text": ...}` posted as JSON). Each raises DeliveryFailed with one
line saying what went wrong, for the caller to record; nothing here retries."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage

from pipeline_analytics.config import NotifySettings
from pipeline_analytics.notify.digest import Digest

TIMEOUT_SECONDS = 30


class DeliveryFailed(Exception):
    """A channel could not deliver the digest; the message says why in one line."""


def email_message(digest: Digest, settings: NotifySettings) -> EmailMessage:
    """multipart/mixed: the plain-text and HTML bodies as alternatives, then the attachments."""
    message = EmailMessage()
    message["Subject"] = digest.subject
    if settings.from_address:
        message["From"] = settings.from_address
    if settings.to:
        message["To"] = ", ".join(settings.to)
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    for a in digest.attachments:
        message.add_attachment(
            a.content, maintype=a.maintype, subtype=a.subtype, filename=a.filename
        )
    return message


def _credentials(settings: NotifySettings) -> tuple[str, str] | None:
    names = (settings.smtp_user_env, settings.smtp_password_env)
    if names == (None, None):
        return None
    if None in names:
        raise DeliveryFailed(
            "[notify] names only one of smtp_user_env and smtp_password_env; name both to log in"
        )
    values = [os.environ.get(name or "") for name in names]
    unset = [name for name, value in zip(names, values, strict=True) if not value]
    if unset:
        raise DeliveryFailed(
            f"environment variable(s) {', '.join(str(n) for n in unset)} (named in [notify]) "
            "not set; set them where the scheduled run starts"
        )
    return str(values[0]), str(values[1])


def send_email(digest: Digest, settings: NotifySettings) -> None:
    host, port = settings.smtp_host, settings.smtp_port
    credentials = _credentials(settings)
    try:
        with smtplib.SMTP(host or "", port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if credentials is not None:
                smtp.login(*credentials)
            smtp.send_message(email_message(digest, settings))
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(
            f"e-mail via {host}:{port} failed: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc


def post_webhook(digest: Digest, settings: NotifySettings) -> None:
    """Slack's incoming-webhook shape: `{"text": ...}`; the subject leads the text."""
    url = settings.webhook_url or ""
    # a webhook's path is its secret (Slack's carries the token): errors name the host only
    where = urllib.parse.urlsplit(url).netloc
    body = json.dumps({"text": f"*{digest.subject}*\n{digest.text}"}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except (OSError, urllib.error.URLError) as exc:
        raise DeliveryFailed(
            f"webhook to {where} failed: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    if not 200 <= status < 300:
        raise DeliveryFailed(f"webhook to {where} answered HTTP {status}")
