"""Alerts recorded in a real PostgreSQL: deduplicated, notified once, pending ones re-sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from harness.local_receivers import webhook_server
from pipeline.monitoring.alert_store import ensure_alerts_table, process_alerts, record_alerts
from pipeline.monitoring.alerts import (
    AlertSettings,
    FreshnessObservation,
    QualityObservation,
    quality_alerts,
    sla_alerts,
)
from pipeline.monitoring.notifications import NotificationSettings, Notifier

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
SETTINGS = AlertSettings.from_config({"quality": {"min_pass_rate": {"order_id_present": 0.99}}})


def _alerts(update: str) -> list:
    return quality_alerts(
        "retail_dev", [QualityObservation(update, "silver_orders", "order_id_present", 90, 10)], SETTINGS
    ) + sla_alerts("retail_dev", [FreshnessObservation("gold_kpis", update, 7200, 3600)])


def _rows(conn: Any, schema: str) -> list[tuple]:
    with conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT dedup_key, rule, subject, alert_window, value, threshold, occurrences, notified_at IS NOT NULL "
            f'FROM "{schema}".alerts ORDER BY alert_id'
        )
        return cur.fetchall()


def test_ddl_is_idempotent(pg_conn: Any, pg_schema: str) -> None:
    ensure_alerts_table(pg_conn, pg_schema)
    ensure_alerts_table(pg_conn, pg_schema)
    assert _rows(pg_conn, pg_schema) == []


def test_same_update_twice_records_once_and_counts_occurrences(pg_conn: Any, pg_schema: str) -> None:
    ensure_alerts_table(pg_conn, pg_schema)
    first = record_alerts(pg_conn, _alerts("u1"), T0, pg_schema)
    second = record_alerts(pg_conn, _alerts("u1"), T0 + dt.timedelta(minutes=5), pg_schema)
    third = record_alerts(pg_conn, _alerts("u2"), T0 + dt.timedelta(minutes=10), pg_schema)
    assert [a.rule for a in first] == ["quality_rate", "sla_breach"]
    assert second == []
    assert [a.window for a in third] == ["u2", "u2"]
    assert _rows(pg_conn, pg_schema) == [
        (
            "quality_rate|silver_orders:order_id_present|u1",
            "quality_rate",
            "silver_orders:order_id_present",
            "u1",
            0.9,
            0.99,
            2,
            False,
        ),
        ("sla_breach|gold_kpis|u1", "sla_breach", "gold_kpis", "u1", 7200.0, 3600.0, 2, False),
        (
            "quality_rate|silver_orders:order_id_present|u2",
            "quality_rate",
            "silver_orders:order_id_present",
            "u2",
            0.9,
            0.99,
            1,
            False,
        ),
        ("sla_breach|gold_kpis|u2", "sla_breach", "gold_kpis", "u2", 7200.0, 3600.0, 1, False),
    ]


def test_process_notifies_each_alert_once(pg_conn: Any, pg_schema: str) -> None:
    notifications = NotificationSettings.from_config({"slack_webhook_env": "SLACK_URL"})
    with webhook_server() as server:
        notifier = Notifier(notifications, {"SLACK_URL": f"http://127.0.0.1:{server.port}/services/x"})
        first = process_alerts(pg_conn, "retail_dev", _alerts("u1"), notifier, T0, pg_schema)
        again = process_alerts(pg_conn, "retail_dev", _alerts("u1"), notifier, T0, pg_schema)
    assert len(first.new) == 2 and len(first.notified) == 2
    assert again.new == () and len(again.repeated) == 2 and again.notified == ()
    assert len(server.requests) == 2
    assert server.requests[0]["json"]["blocks"][0]["text"]["text"] == (
        "[retail_dev] quality_rate: silver_orders:order_id_present"
    )
    assert all(row[-1] for row in _rows(pg_conn, pg_schema))


def test_failed_delivery_stays_pending_and_is_resent(pg_conn: Any, pg_schema: str) -> None:
    notifications = NotificationSettings.from_config({"slack_webhook_env": "SLACK_URL"})
    alerts = _alerts("u1")[:1]
    with webhook_server(replies=[400]) as server:
        notifier = Notifier(notifications, {"SLACK_URL": f"http://127.0.0.1:{server.port}/services/x"})
        first = process_alerts(pg_conn, "retail_dev", alerts, notifier, T0, pg_schema)
        assert first.notified[0][1][0].status == "failed"
        assert _rows(pg_conn, pg_schema)[0][-1] is False
        second = process_alerts(pg_conn, "retail_dev", alerts, notifier, T0, pg_schema)
    assert second.new == ()
    assert second.notified[0][1][0].status == "sent"
    assert len(server.requests) == 2
    assert _rows(pg_conn, pg_schema)[0][-1] is True
