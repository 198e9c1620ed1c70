"""Errors of the metrics package.

`pipeline/` deploys to Databricks alone and must not import ``harness``, so this package has its own
small root built like ``harness.errors.HarnessError``: flat subclasses carrying the offending name
as fields (tests assert on fields, not wording), messages that quote the value and say the fix.
No message or field ever contains a password.
"""

from __future__ import annotations

from typing import Any


class MetricsError(Exception):
    """Root of every error the metrics package raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)


class MetricsConfigError(MetricsError):
    """Raised when the ``export`` / ``cost`` / ``sla`` configuration has an unknown key or a bad value."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        super().__init__(
            f"Invalid metrics setting {key}={value!r}: {reason}", key=key, value=value, reason=reason
        )


class MigrationError(MetricsError):
    """Raised when a migration file is malformed, fails, or was edited after it was applied."""

    def __init__(self, version: int, name: str, reason: str) -> None:
        super().__init__(
            f"Metrics migration {version:04d}_{name}: {reason}", version=version, name=name, reason=reason
        )


class ExportFailedError(MetricsError):
    """Raised when an export left batches in the dead-letter queue (after its retries)."""

    def __init__(self, pipeline_id: str, dead_letters: list[str], reason: str) -> None:
        super().__init__(
            f"Metrics export of pipeline {pipeline_id} stopped: {reason}. {len(dead_letters)} batch(es) went "
            "to the dead-letter queue; fix the cause and run `harness redrive-dead-letters` (or "
            "`redrive_dead_letters()`).",
            pipeline_id=pipeline_id,
            dead_letters=dead_letters,
            reason=reason,
        )


__all__ = ["ExportFailedError", "MetricsConfigError", "MetricsError", "MigrationError"]
