"""Alerts in PostgreSQL: the table, deduplicated recording, and notify-once bookkeeping.

Takes any DB-API connection from psycopg2 (what the metrics export uses locally and on Databricks
with Lakebase). The flow of `process_alerts` is record → commit → notify the new and still
pending ones → mark them notified, so a crash after recording re-sends on the next run instead of
losing the notification, and a re-run of the same update sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.config.model import DEFAULT_SCHEMA
from pipeline.metrics.identifiers import quote_ident
from pipeline.monitoring.alerts import Alert, alert_message
from pipeline.monitoring.notifications import Delivery, Notifier
from pipeline.utils.errors import AlertStoreError

__all__ = [
    "DEFAULT_SCHEMA",
    "ProcessResult",
    "ensure_alerts_table",
    "pending_alerts",
    "process_alerts",
    "record_alerts",
]


def _quote(identifier: str) -> str:
    """The schema (``export.schema``, from configuration) quoted for SQL text, after the identifier check."""
    return quote_ident(identifier, "export.schema")


def ensure_alerts_table(conn: Any, schema: str = DEFAULT_SCHEMA) -> None:
    """Apply the monitoring migrations (``pipeline/metrics/migrations``, ``0003`` holds ``alerts``).

    The metrics migrator is idempotent and records what it applied, so this is safe before every run.
    """
    from pipeline.metrics.migrate import apply_migrations

    apply_migrations(conn, schema)


def _number(value: float | None) -> float | None:
    """PostgreSQL double precision takes Infinity, but JSON and dashboards read better with NULL."""
    return value if value is None or math.isfinite(value) else math.copysign(1e308, value)


def record_alerts(
    conn: Any, alerts: Iterable[Alert], now: dt.datetime, schema: str = DEFAULT_SCHEMA
) -> list[Alert]:
    """Upsert the alerts on their natural key; returns those seen for the first time, in input order."""
    table = f"{_quote(schema)}.alerts"
    new: list[Alert] = []
    try:
        with conn, conn.cursor() as cur:
            for alert in alerts:
                cur.execute(
                    f"""INSERT INTO {table} (pipeline, dedup_key, rule, severity, subject, alert_window,
                            value, threshold, message, details, first_seen_at, last_seen_at)
                        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)
                        ON CONFLICT (pipeline, dedup_key) DO UPDATE
                           SET last_seen_at = EXCLUDED.last_seen_at, occurrences = {table}.occurrences + 1
                        RETURNING (xmax = 0) AS inserted""",
                    (
                        alert.pipeline,
                        alert.dedup_key,
                        alert.rule,
                        alert.severity,
                        alert.subject,
                        alert.window,
                        _number(alert.value),
                        _number(alert.threshold),
                        alert.message,
                        json.dumps(dict(alert.details), default=str),
                        now,
                        now,
                    ),
                )
                if cur.fetchone()[0]:
                    new.append(alert)
    except Exception as exc:  # psycopg2 errors: keep the driver out of the signature
        if type(exc).__module__.startswith("psycopg2"):
            raise AlertStoreError(table, f"{type(exc).__name__}: {exc}".strip()) from exc
        raise
    return new


def pending_alerts(conn: Any, pipeline: str, schema: str = DEFAULT_SCHEMA) -> list[Alert]:
    """Alerts recorded but not yet notified (a previous run stopped before notifying)."""
    table = f"{_quote(schema)}.alerts"
    with conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT rule, severity, pipeline, subject, alert_window, value, threshold, message, details
                  FROM {table} WHERE pipeline = %s AND notified_at IS NULL ORDER BY alert_id""",
            (pipeline,),
        )
        return [
            Alert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] if isinstance(r[8], dict) else {})
            for r in cur.fetchall()
        ]


def _mark_notified(
    conn: Any, alert: Alert, deliveries: Sequence[Delivery], now: dt.datetime, schema: str
) -> None:
    table = f"{_quote(schema)}.alerts"
    with conn, conn.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET notified_at = %s, deliveries = %s::jsonb WHERE pipeline = %s AND dedup_key = %s",
            (
                None if any(d.status == "failed" for d in deliveries) else now,
                json.dumps([asdict(d) for d in deliveries]),
                alert.pipeline,
                alert.dedup_key,
            ),
        )


@dataclass(frozen=True)
class ProcessResult:
    """What one evaluation did: alerts first seen now, alerts seen before, and what was sent."""

    new: tuple[Alert, ...]
    repeated: tuple[Alert, ...]
    notified: tuple[tuple[str, tuple[Delivery, ...]], ...]


def process_alerts(
    conn: Any,
    pipeline: str,
    alerts: Sequence[Alert],
    notifier: Notifier | None,
    now: dt.datetime,
    schema: str = DEFAULT_SCHEMA,
) -> ProcessResult:
    """Record ``alerts`` and notify each new or still-pending alert.

    An alert stays pending (``notified_at`` NULL, retried next run) while any channel failed; the
    attempt's outcome is kept in ``deliveries`` either way.
    """
    ensure_alerts_table(conn, schema)
    new = record_alerts(conn, alerts, now, schema)
    new_keys = {a.dedup_key for a in new}
    repeated = tuple(a for a in alerts if a.dedup_key not in new_keys)
    notified = []
    if notifier is not None:
        for alert in pending_alerts(conn, pipeline, schema):
            deliveries = tuple(notifier.notify(alert_message(alert)))
            _mark_notified(conn, alert, deliveries, now, schema)
            notified.append((alert.dedup_key, deliveries))
    return ProcessResult(tuple(new), repeated, tuple(notified))
