"""Slack incoming-webhook and SMTP e-mail notifications, configured per environment.

Only the standard library (``urllib``, ``smtplib``) plus ``tenacity`` for retries, so the module runs
on a Databricks cluster as it is. Secrets never live in the configuration files: the configuration
names *environment variables* (``alerts.slack_webhook_env``, ``alerts.email.password_env``), and on
Databricks those are filled from a secret scope in the cluster / job environment
(``{{secrets/scope/key}}``). A webhook URL is itself a credential (its path is the token), so every
message and error shows it as ``https://hooks.slack.com/***``.

Delivery of one channel never blocks the other: `Notifier.notify` returns one `Delivery` per
channel and logs failures; `send_slack` / `send_email` raise `NotificationError` for callers that
want the exception.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from pipeline.config.model import EmailSettings, NotificationSettings, SlackSettings
from pipeline.utils.errors import NotificationError

__all__ = [
    "Delivery",
    "EmailSettings",
    "Message",
    "NotificationSettings",
    "Notifier",
    "SlackSettings",
    "redact",
    "redact_url",
    "send_email",
    "send_slack",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One notification: a subject line, a plain-text body and labelled fields (what, where, value...)."""

    subject: str
    text: str
    fields: tuple[tuple[str, str], ...] = ()
    severity: str = "warning"


@dataclass(frozen=True)
class Delivery:
    """The outcome of one channel: ``sent``, ``skipped`` (not configured / no secret) or ``failed``."""

    channel: str
    status: str
    detail: str = ""


# --- redaction ----------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``scheme://host[:port]/***``: keeps where a request went, never the token in the path or query."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "***"
    if not parts.scheme or not parts.netloc:
        return "***"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """Replace every occurrence of each non-empty secret (and a URL's path) in ``text`` with ``***``."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "***")
        path = urllib.parse.urlsplit(secret).path if "://" in secret else ""
        if len(path) > 1:
            text = text.replace(path, "/***")
    return text


# --- Slack --------------------------------------------------------------------------------------

_EMOJI = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}


def slack_payload(message: Message) -> dict[str, Any]:
    """The JSON body of an incoming-webhook call: ``text`` (the fallback Slack requires) and Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{_EMOJI.get(message.severity, '')} {message.text}"[:3000]},
        },
    ]
    if message.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in message.fields[:10]],
            }
        )
    return {"text": f"{message.subject}: {message.text}", "blocks": blocks}


class _Transient(Exception):
    """A retryable delivery failure (connection refused, timeout, HTTP 429 or 5xx)."""


def send_slack(message: Message, settings: SlackSettings, environ: Mapping[str, str] | None = None) -> int:
    """POST the message to the webhook named by ``settings.webhook_env``; returns the HTTP status.

    Retries connection errors, timeouts, 429 and 5xx with exponential backoff and jitter (as Slack's
    rate-limit guidance asks); a 4xx other than 429 (bad payload, revoked webhook) fails at once.
    """
    env = os.environ if environ is None else environ
    url = env.get(settings.webhook_env, "")
    if not url:
        raise NotificationError("slack", f"${settings.webhook_env}", "the environment variable is not set")
    target = redact_url(url)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise NotificationError("slack", target, f"${settings.webhook_env} is not an http(s) URL")
    body = json.dumps(slack_payload(message)).encode()

    def attempt() -> int:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            detail = exc.read(200).decode("utf-8", "replace")
            reason = f"HTTP {exc.code} {redact(detail, [url])}"
            if exc.code == 429 or exc.code >= 500:
                raise _Transient(reason) from None
            raise NotificationError("slack", target, reason) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise _Transient(redact(str(getattr(exc, "reason", exc)), [url])) from None

    try:
        for retry in Retrying(
            stop=stop_after_attempt(settings.attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0),
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            reraise=True,
        ):
            with retry:
                return attempt()
    except _Transient as exc:
        raise NotificationError("slack", target, f"{exc} (after {settings.attempts} attempts)") from None
    raise AssertionError("unreachable")  # pragma: no cover


# --- e-mail -------------------------------------------------------------------------------------


def email_message(message: Message, settings: EmailSettings) -> EmailMessage:
    """A plain-text e-mail: the body followed by one ``label: value`` line per field."""
    mail = EmailMessage()
    mail["Subject"] = f"[{message.severity.upper()}] {message.subject}"
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.recipients)
    lines = [message.text, ""] + [f"{k}: {v}" for k, v in message.fields]
    mail.set_content("\n".join(lines) + "\n")
    return mail


def send_email(message: Message, settings: EmailSettings, environ: Mapping[str, str] | None = None) -> None:
    """Send through the SMTP relay (optionally STARTTLS and login with the password from the environment)."""
    env = os.environ if environ is None else environ
    password = env.get(settings.password_env, "") if settings.password_env else ""
    target = f"{settings.smtp_host}:{settings.smtp_port}"
    if settings.username and not password:
        raise NotificationError(
            "email", target, f"user {settings.username!r} needs a password in ${settings.password_env}"
        )
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_s) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, password)
            refused = smtp.send_message(email_message(message, settings))
    except (smtplib.SMTPException, OSError) as exc:
        raise NotificationError("email", target, redact(f"{type(exc).__name__}: {exc}", [password])) from None
    if refused:
        raise NotificationError("email", target, f"recipients refused: {sorted(refused)}")


# --- both channels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notifier:
    """Sends a message to every configured channel; a failing channel is reported, not raised."""

    settings: NotificationSettings
    environ: Mapping[str, str] | None = field(default=None, repr=False)

    def notify(self, message: Message) -> list[Delivery]:
        results: list[Delivery] = []
        env = os.environ if self.environ is None else self.environ
        if self.settings.slack is None:
            results.append(Delivery("slack", "skipped", "not configured"))
        elif not env.get(self.settings.slack.webhook_env):
            results.append(Delivery("slack", "skipped", f"${self.settings.slack.webhook_env} is not set"))
        else:
            results.append(self._try("slack", lambda: send_slack(message, self.settings.slack, env)))  # type: ignore[arg-type]
        if self.settings.email is None:
            results.append(Delivery("email", "skipped", "not configured"))
        else:
            results.append(self._try("email", lambda: send_email(message, self.settings.email, env)))  # type: ignore[arg-type]
        return results

    @staticmethod
    def _try(channel: str, send: Any) -> Delivery:
        try:
            send()
        except NotificationError as exc:
            log.warning("notification failed: %s", exc.message)
            return Delivery(channel, "failed", exc.reason)
        return Delivery(channel, "sent")
