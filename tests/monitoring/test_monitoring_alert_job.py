"""Alerts evaluated from the PostgreSQL metrics tables, recorded once and sent to real local Slack/SMTP receivers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from harness.local_receivers import smtp_server, webhook_server
from pipeline.metrics.migrate import apply_migrations
from pipeline.monitoring.alert_inputs import load_alert_inputs
from pipeline.monitoring.alert_job import MonitoringSettings, alerts_after_export, run_alerts

pytestmark = pytest.mark.postgres

PID = "pipe-alerts"
T0 = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.UTC)


def _settings(smtp_port: int | None = None) -> MonitoringSettings:
    alerts: dict[str, Any] = {
        "slack_webhook_env": "TEST_SLACK_URL",
        "revenue_zscore_threshold": 3.5,
        "performance_degradation_factor": 2.0,
        "min_anomaly_history_days": 5,
    }
    if smtp_port is not None:
        alerts["email"] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "sender": "pipeline@retail.example",
            "recipients": ["oncall@retail.example"],
            "username": "alerts",
            "password_env": "TEST_SMTP_PASSWORD",
        }
    config = {"quality": {"min_pass_rate": {"order_id_present": 0.99, "status_known": 0.5}}, "alerts": alerts}
    settings = MonitoringSettings.from_config(config)
    assert settings is not None
    return settings


def _load_history(conn: Any, schema: str) -> None:
    """Six updates: u1-u5 healthy (silver_orders 10 s, 1000 rows), u6 failed, slow and low on quality."""
    s = f'"{schema}"'
    with conn, conn.cursor() as cur:
        for n in range(1, 7):
            start = T0 + dt.timedelta(days=n)
            last = n == 6
            cur.execute(
                f"INSERT INTO {s}.pipeline_updates (pipeline_id, update_id, state, start_time, end_time, "
                "duration_s, error_class, error_message, update_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    PID,
                    f"u{n}",
                    "FAILED" if last else "COMPLETED",
                    start,
                    start + dt.timedelta(minutes=2),
                    120,
                    "AnalysisException" if last else None,
                    "gold_kpis: division by zero" if last else None,
                    n * 100,
                ),
            )
            # u6: 4x slower than its median (10.3 s), same throughput (4000 rows in 40 s)
            flows = [("silver_orders", "COMPLETED", 40.0 if last else 10.0 + n * 0.1, 4000 if last else 1000)]
            flows.append(("gold_kpis", "FAILED" if last else "COMPLETED", 5.0, 0 if last else 30))
            for flow, status, duration, rows in flows:
                cur.execute(
                    f"INSERT INTO {s}.flow_metrics (pipeline_id, update_id, flow_name, status, start_time, "
                    "duration_s, rows_out, error_message, update_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (PID, f"u{n}", flow, status, start, duration, rows, "division by zero" if status == "FAILED" else None, n * 100),
                )  # fmt: skip
            # the same rule on two flows of one dataset sums per update: u6 = 188 / 200 = 94 %
            for flow in ("silver_order_events", "silver_order_events_backfill"):
                cur.execute(
                    f"INSERT INTO {s}.quality_metrics (pipeline_id, update_id, flow_name, dataset_name, "
                    "expectation_name, passed_records, failed_records, update_seq) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                    (PID, f"u{n}", flow, "silver_order_events", "order_id_present", 94 if last else 100, 6 if last else 0, n * 100),
                )  # fmt: skip
            cur.execute(
                f"INSERT INTO {s}.sla_status (pipeline_id, update_id, check_type, subject, observed_minutes, "
                "target_minutes, compliant, update_seq) VALUES (%s,%s,'freshness','gold_kpis',%s,60,%s,%s), "
                "(%s,%s,'update_duration','update',2,60,true,%s)",
                (PID, f"u{n}", 90.0 if last else 30.0, not last, n * 100, PID, f"u{n}", n * 100),
            )
        for d in range(1, 11):  # ten ordinary days, then a collapse on the eleventh
            revenue, orders = Decimal(1000 + 10 * (d % 3)), 20 + d % 2
            cur.execute(
                f"INSERT INTO {s}.gold_kpi_daily (pipeline_id, kpi_date, dimension, dimension_value, orders, revenue) "
                "VALUES (%s,%s,'all','all',%s,%s)",
                (PID, dt.date(2026, 3, d), orders, revenue),
            )
        cur.execute(
            f"INSERT INTO {s}.gold_kpi_daily (pipeline_id, kpi_date, dimension, dimension_value, orders, revenue) "
            "VALUES (%s,%s,'all','all',1,12.50)",
            (PID, dt.date(2026, 3, 11)),
        )


def test_inputs_come_from_the_metrics_tables(pg_conn: Any, pg_schema: str) -> None:
    apply_migrations(pg_conn, pg_schema)
    assert load_alert_inputs(pg_conn, PID, _settings().rules, schema=pg_schema).update_ids == ()
    _load_history(pg_conn, pg_schema)
    inputs = load_alert_inputs(pg_conn, PID, _settings().rules, schema=pg_schema)
    assert inputs.update_ids == ("u6",)  # default: the newest exported update
    [quality] = inputs.quality
    assert (quality.dataset, quality.rule, quality.passed, quality.failed) == (
        "silver_order_events",
        "order_id_present",
        188,
        12,
    )
    assert [(r.flow, r.status, r.error) for r in inputs.runs] == [
        (None, "FAILED", "AnalysisException: gold_kpis: division by zero"),
        ("gold_kpis", "FAILED", "division by zero"),
    ]
    assert [(o.check, o.dataset, o.lag_seconds, o.target_seconds) for o in inputs.sla] == [
        ("freshness", "gold_kpis", 5400.0, 3600.0)
    ]
    assert [(f.flow, f.duration_seconds) for f in inputs.current_flows] == [("silver_orders", 40.0)]
    assert [f.update_id for f in inputs.flow_history if f.flow == "silver_orders"] == [
        f"u{n}" for n in range(1, 6)
    ]
    assert len(inputs.days) == 11 and inputs.days[-1].revenue == 12.5


def test_alerts_are_recorded_once_and_sent_to_slack_and_smtp(pg_conn: Any, pg_schema: str) -> None:
    apply_migrations(pg_conn, pg_schema)
    _load_history(pg_conn, pg_schema)
    with webhook_server() as slack, smtp_server(credentials=("alerts", "s3cret")) as smtp:
        environ = {
            "TEST_SLACK_URL": f"http://127.0.0.1:{slack.port}/services/T0/B0/tok",
            "TEST_SMTP_PASSWORD": "s3cret",
        }
        settings = _settings(smtp.port)
        first = run_alerts(pg_conn, PID, settings, now=T0, schema=pg_schema, environ=environ)
        found = sorted((a.rule, a.subject, a.window) for a in first.new)
        assert found == [
            ("flow_failed", "gold_kpis", "u6"),
            ("order_count_anomaly", "orders", "2026-03-11"),
            ("performance_degradation", "silver_orders:duration", "u6"),
            ("quality_rate", "silver_order_events:order_id_present", "u6"),
            ("revenue_anomaly", "revenue", "2026-03-11"),
            ("sla_breach", "gold_kpis", "u6"),
            ("update_failed", PID, "u6"),
        ]
        by_rule = {a.rule: a for a in first.new}
        assert by_rule["quality_rate"].value == 0.94 and by_rule["quality_rate"].threshold == 0.99
        assert by_rule["performance_degradation"].value == pytest.approx(40 / 10.3, rel=1e-3)
        assert by_rule["revenue_anomaly"].value < -3.5
        assert len(slack.requests) == 7 and len(smtp.mails) == 7
        assert all(r["path"] == "/services/T0/B0/tok" for r in slack.requests)
        assert {m.auth for m in smtp.mails} == {("alerts", "s3cret")}
        subjects = sorted(m.message["Subject"] for m in smtp.mails)
        assert f"[CRITICAL] [{PID}] update_failed: {PID}" in subjects
        # the same update evaluated again (a second export, a re-run): nothing new, nothing re-sent
        second = run_alerts(
            pg_conn, PID, settings, now=T0 + dt.timedelta(hours=1), schema=pg_schema, environ=environ
        )
        assert second.new == () and len(second.repeated) == 7 and second.notified == ()
        assert len(slack.requests) == 7 and len(smtp.mails) == 7
    with pg_conn, pg_conn.cursor() as cur:
        cur.execute(f'SELECT count(*), min(occurrences), count(notified_at) FROM "{pg_schema}".alerts')
        assert cur.fetchone() == (7, 2, 7)


def test_earlier_updates_can_be_evaluated_and_a_healthy_one_raises_nothing(
    pg_conn: Any, pg_schema: str
) -> None:
    apply_migrations(pg_conn, pg_schema)
    _load_history(pg_conn, pg_schema)
    settings = _settings()
    result = run_alerts(pg_conn, PID, settings, now=T0, update_ids=["u5"], schema=pg_schema, environ={})
    # u5 is healthy; the newest business day is the anomaly, judged whatever the update
    assert sorted(a.rule for a in result.new) == ["order_count_anomaly", "revenue_anomaly"]
    assert [d.status for _, deliveries in result.notified for d in deliveries] == ["skipped", "skipped"] * 2


def test_after_export_logs_and_returns_none_when_the_database_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import psycopg2

    def refuse() -> Any:
        return psycopg2.connect(host="127.0.0.1", port=1, dbname="x", user="x", connect_timeout=2)

    assert alerts_after_export(refuse, PID, None) is None  # alerting off: not even a connection
    with caplog.at_level("WARNING"):
        assert alerts_after_export(refuse, PID, _settings()) is None
    assert "cannot connect" in caplog.text and PID in caplog.text
