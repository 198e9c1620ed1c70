"""Errors of the monitoring package.

`pipeline/` must not import ``harness`` (it deploys to Databricks alone), so this package has its own
small root, built like ``harness.errors.HarnessError``: one root with flat subclasses, each carrying
the offending name as fields so tests assert on data, and messages that quote the value and say the
fix. Secrets never appear in a message or a field: callers pass redacted values.
"""

from __future__ import annotations

from typing import Any


class MonitoringError(Exception):
    """Root of every error the monitoring package raises on purpose."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)


class AlertConfigError(MonitoringError):
    """Raised when the ``alerts`` / ``quality`` / ``sla`` configuration has a missing key or a bad value."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        super().__init__(
            f"Invalid monitoring setting {key}={value!r}: {reason}", key=key, value=value, reason=reason
        )


class NotificationError(MonitoringError):
    """Raised when a Slack or e-mail notification cannot be delivered (target and reason, secrets redacted)."""

    def __init__(self, channel: str, target: str, reason: str) -> None:
        super().__init__(
            f"Could not send the {channel} notification to {target}: {reason}",
            channel=channel,
            target=target,
            reason=reason,
        )


class AlertStoreError(MonitoringError):
    """Raised when alerts or their inputs cannot be read from / written to PostgreSQL."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"Alert store table {table}: {reason}", table=table, reason=reason)


class QualitySuiteError(MonitoringError):
    """Raised when a Great Expectations suite is unknown, its stored JSON is stale, or its table is missing."""

    def __init__(self, suite: str, reason: str) -> None:
        super().__init__(f"Quality suite {suite!r}: {reason}", suite=suite, reason=reason)


class DashboardError(MonitoringError):
    """Raised when a dashboard file or one of its panels is malformed or its SQL fails."""

    def __init__(self, dashboard: str, panel: str, reason: str) -> None:
        super().__init__(
            f"Dashboard {dashboard}, panel {panel!r}: {reason}", dashboard=dashboard, panel=panel
        )
