"""Every error `pipeline/` raises on purpose: one root (`PipelineError`) and flat subclasses.

Built like ``harness.errors.HarnessError`` (each error carries the offending name as fields, so tests
assert on data; messages quote the value and say the fix), but separate from it: `pipeline/` is what
deploys to Databricks and never imports ``harness``. The harness CLI catches `HarnessError` and
`PipelineError` in one place and prints ``Error: <message>``.

It lives in ``pipeline/utils`` and imports nothing because the pipeline's source files import
``utils.*`` from the pipeline's root path on Databricks (``from utils.runtime_config import ...``),
where the ``pipeline`` package itself is not importable. No message or field ever holds a secret:
callers pass redacted values.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlertStoreError",
    "ConfigError",
    "DashboardError",
    "MigrationError",
    "NotificationError",
    "PipelineError",
    "QualitySuiteError",
]


class PipelineError(Exception):
    """Root of every error the pipeline's packages (config, metrics, monitoring) raise on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)


class ConfigError(PipelineError):
    """Raised when an environment config (or the pipeline configuration read back from ``spark.conf``)
    has a missing key, an unknown key or a bad value; ``key`` is dotted (``export.port``).

    ``environment`` and ``source`` (the file) are set when known; ``expected`` names the type or the
    values allowed when the value has the wrong type.
    """

    def __init__(
        self,
        key: str,
        value: Any,
        reason: str,
        *,
        environment: str | None = None,
        source: str | None = None,
        expected: str | None = None,
    ) -> None:
        where = ", ".join(
            part for part in (f"environment {environment!r}" if environment else "", source or "") if part
        )
        super().__init__(
            f"Invalid setting {key}={value!r}{f' ({where})' if where else ''}: {reason}",
            key=key,
            value=value,
            reason=reason,
            environment=environment,
            source=source,
            expected=expected,
        )


class MigrationError(PipelineError):
    """Raised when a metrics migration file is malformed, fails, or was edited after it was applied."""

    def __init__(self, version: int, name: str, reason: str) -> None:
        super().__init__(
            f"Metrics migration {version:04d}_{name}: {reason}", version=version, name=name, reason=reason
        )


class NotificationError(PipelineError):
    """Raised when a Slack or e-mail notification cannot be delivered (target and reason, secrets redacted)."""

    def __init__(self, channel: str, target: str, reason: str) -> None:
        super().__init__(
            f"Could not send the {channel} notification to {target}: {reason}",
            channel=channel,
            target=target,
            reason=reason,
        )


class AlertStoreError(PipelineError):
    """Raised when alerts or their inputs cannot be read from / written to PostgreSQL."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"Alert store table {table}: {reason}", table=table, reason=reason)


class QualitySuiteError(PipelineError):
    """Raised when a Great Expectations suite is unknown, its stored JSON is stale, or its table is missing."""

    def __init__(self, suite: str, reason: str) -> None:
        super().__init__(f"Quality suite {suite!r}: {reason}", suite=suite, reason=reason)


class DashboardError(PipelineError):
    """Raised when a dashboard file or one of its panels is malformed or its SQL fails."""

    def __init__(self, dashboard: str, panel: str, reason: str) -> None:
        super().__init__(
            f"Dashboard {dashboard}, panel {panel!r}: {reason}", dashboard=dashboard, panel=panel
        )
