"""Slack webhook and SMTP notifications against real local servers the tests start."""

from __future__ import annotations

import socket

import pytest

from harness.local_receivers import smtp_server, webhook_server
from pipeline.monitoring.notifications import (
    EmailSettings,
    Message,
    NotificationSettings,
    Notifier,
    SlackSettings,
    redact_url,
    send_email,
    send_slack,
)
from pipeline.utils.errors import ConfigError, NotificationError

pytestmark = pytest.mark.unit

MESSAGE = Message(
    subject="Quality below threshold",
    text="order_id_present passed 91.0% of rows in silver_orders (threshold 99.0%)",
    fields=(("rule", "order_id_present"), ("value", "0.91"), ("threshold", "0.99")),
    severity="critical",
)
TOKEN_PATH = "/services/T000/B000/XXXXSECRETXXXX"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_slack_posts_block_kit_json_to_the_webhook_from_the_environment() -> None:
    with webhook_server() as server:
        env = {"SLACK_URL": f"http://127.0.0.1:{server.port}{TOKEN_PATH}"}
        status = send_slack(MESSAGE, SlackSettings("SLACK_URL"), env)
    assert status == 200
    [request] = server.requests
    assert request["path"] == TOKEN_PATH
    assert request["content_type"].startswith("application/json")
    body = request["json"]
    assert body["text"].startswith("Quality below threshold: order_id_present passed 91.0%")
    assert body["blocks"][0]["text"]["text"] == "Quality below threshold"
    assert {"type": "mrkdwn", "text": "*threshold*\n0.99"} in body["blocks"][2]["fields"]


def test_slack_retries_429_and_5xx_then_succeeds() -> None:
    with webhook_server(replies=[503, 429]) as server:
        env = {"SLACK_URL": f"http://127.0.0.1:{server.port}{TOKEN_PATH}"}
        assert send_slack(MESSAGE, SlackSettings("SLACK_URL", attempts=3), env) == 200
    assert len(server.requests) == 3


def test_slack_bad_payload_fails_at_once_and_the_error_hides_the_token() -> None:
    with webhook_server(replies=[400]) as server:
        env = {"SLACK_URL": f"http://127.0.0.1:{server.port}{TOKEN_PATH}"}
        with pytest.raises(NotificationError) as info:
            send_slack(MESSAGE, SlackSettings("SLACK_URL"), env)
    assert len(server.requests) == 1
    assert info.value.channel == "slack"
    assert info.value.target == f"http://127.0.0.1:{server.port}/***"
    assert "HTTP 400 invalid_payload" in info.value.reason
    assert "SECRET" not in str(info.value)


def test_slack_connection_refused_after_all_attempts_names_the_redacted_target() -> None:
    port = _free_port()
    env = {"SLACK_URL": f"http://127.0.0.1:{port}{TOKEN_PATH}"}
    with pytest.raises(NotificationError) as info:
        send_slack(MESSAGE, SlackSettings("SLACK_URL", attempts=2, timeout_s=2), env)
    assert "after 2 attempts" in info.value.reason
    assert "SECRET" not in str(info.value)


def test_slack_missing_variable_is_named() -> None:
    with pytest.raises(NotificationError) as info:
        send_slack(MESSAGE, SlackSettings("NOPE_URL"), {})
    assert info.value.target == "$NOPE_URL"


def test_email_is_delivered_with_login_from_the_environment() -> None:
    with smtp_server(credentials=("alerts", "s3cret-pw")) as server:
        settings = EmailSettings(
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            sender="pipeline@example.com",
            recipients=("oncall@example.com", "data@example.com"),
            username="alerts",
            password_env="SMTP_PW",
        )
        send_email(MESSAGE, settings, {"SMTP_PW": "s3cret-pw"})
    [mail] = server.mails
    assert mail.auth == ("alerts", "s3cret-pw")
    assert mail.mail_from == "pipeline@example.com"
    assert mail.rcpt_to == ["oncall@example.com", "data@example.com"]
    assert mail.message["Subject"] == "[CRITICAL] Quality below threshold"
    body = mail.message.get_payload()
    assert "threshold: 0.99" in body and "rule: order_id_present" in body


def test_email_wrong_password_is_an_error_without_the_password() -> None:
    with smtp_server(credentials=("alerts", "right")) as server:
        settings = EmailSettings(
            "127.0.0.1", server.port, "p@example.com", ("o@example.com",), "alerts", "SMTP_PW"
        )
        with pytest.raises(NotificationError) as info:
            send_email(MESSAGE, settings, {"SMTP_PW": "wrong-pw-value"})
    assert info.value.target == f"127.0.0.1:{server.port}"
    assert "SMTPAuthenticationError" in info.value.reason
    assert "wrong-pw-value" not in str(info.value)
    assert server.mails == []


def test_notifier_sends_both_channels_and_reports_a_failing_one() -> None:
    settings = NotificationSettings.from_config(
        {
            "slack_webhook_env": "SLACK_URL",
            "email": {
                "smtp_host": "127.0.0.1",
                "smtp_port": _free_port(),  # nobody listens: e-mail fails, Slack still goes out
                "sender": "p@example.com",
                "recipients": ["o@example.com"],
            },
        }
    )
    with webhook_server() as server:
        env = {"SLACK_URL": f"http://127.0.0.1:{server.port}{TOKEN_PATH}"}
        results = Notifier(settings, env).notify(MESSAGE)
    assert [(r.channel, r.status) for r in results] == [("slack", "sent"), ("email", "failed")]
    assert len(server.requests) == 1


def test_notifier_skips_unconfigured_channels_and_unset_secrets() -> None:
    results = Notifier(NotificationSettings.from_config({"slack_webhook_env": "UNSET_VAR"}), {}).notify(
        MESSAGE
    )
    assert [(r.channel, r.status) for r in results] == [("slack", "skipped"), ("email", "skipped")]
    assert results[0].detail == "$UNSET_VAR is not set"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"email": {"smtp_host": "h", "smtp_port": 25, "sender": "s@x"}}, "alerts.email.recipients"),
        (
            {"email": {"smtp_host": "h", "smtp_port": "25", "sender": "s@x", "recipients": ["a@x"]}},
            "alerts.email.smtp_port",
        ),
        (
            {"email": {"smtp_host": "h", "smtp_port": 25, "sender": "s@x", "recipients": ["a@x"], "pw": "x"}},
            "alerts.email.pw",
        ),
        ({"slack_webhook_env": ""}, "alerts.slack_webhook_env"),
    ],
)
def test_bad_notification_config_names_the_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        NotificationSettings.from_config(section)
    assert info.value.key == key


def test_redact_url_keeps_only_scheme_host_and_port() -> None:
    assert redact_url("https://hooks.slack.com/services/T/B/secret?x=1") == "https://hooks.slack.com/***"
    assert redact_url("not a url") == "***"
