"""Operations side of the pipeline: alert rules, notifications, quality suites' metrics, dashboards.

Everything here runs unchanged on Databricks (no imports from ``harness``, ``simulator`` or
``tests``); Spark, PostgreSQL and matplotlib are imported inside the functions that need them, so
importing the package costs nothing and has no side effects.
"""

from __future__ import annotations

from pipeline.monitoring.errors import (
    AlertConfigError,
    AlertStoreError,
    DashboardError,
    MonitoringError,
    NotificationError,
    QualitySuiteError,
)

__all__ = [
    "AlertConfigError",
    "AlertStoreError",
    "DashboardError",
    "MonitoringError",
    "NotificationError",
    "QualitySuiteError",
]
