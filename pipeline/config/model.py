"""The typed model of an environment config (``pipeline/configurations/<env>_config.json``).

Frozen dataclasses, one per section, built only by `pipeline.config.parse` (which validates the file
once). Metrics, the export, monitoring and the config manager all read these objects; none of them
parses the JSON again. Secrets are never part of the model: only the *names* of environment
variables and secret scopes.

The ``from_config`` class methods are the section parsers' public faces for callers holding a plain
mapping (a job, a test): they delegate to `pipeline.config.parse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_SCHEMA",
    "AlertSettings",
    "CostSettings",
    "EmailSettings",
    "EnvConfig",
    "ExportSettings",
    "IngestionSettings",
    "MetricsConfig",
    "MonitoringSettings",
    "NotificationSettings",
    "RetryPolicy",
    "SlaSettings",
    "SlackSettings",
]

#: The PostgreSQL schema of the metrics tables when ``export.schema`` is not given.
DEFAULT_SCHEMA = "pipeline_monitoring"


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


# --- export, cost, sla ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits about initial * 2**(n-1) (capped) plus jitter."""

    max_attempts: int = 5
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    jitter_s: float = 0.5


@dataclass(frozen=True)
class ExportSettings:
    """Where and how metrics go to PostgreSQL (the ``export`` section, without any secret)."""

    enabled: bool = False
    host: str | None = None
    port: int = 5432
    database: str | None = None
    user: str | None = None
    sslmode: str | None = None
    schema: str = DEFAULT_SCHEMA
    jdbc_url: str | None = None
    password_env: str | None = None
    secret_scope: str | None = None
    secret_key: str | None = None
    #: updates per transaction (each batch carries all metric rows of its updates)
    batch_updates: int = 20
    retry: RetryPolicy = RetryPolicy()
    #: Databricks: where dead letters and staged tables live (a Volume path, a `catalog.schema`)
    dead_letter_dir: str | None = None
    staging_schema: str | None = None


@dataclass(frozen=True)
class CostSettings:
    """Resource cost model: core-seconds -> DBUs -> USD. `cores` overrides what the caller detects."""

    dbu_per_core_hour: float = 0.0
    usd_per_dbu: float = 0.0
    cores: int | None = None


@dataclass(frozen=True)
class SlaSettings:
    """Freshness targets per table (minutes), the longest acceptable update, and event-time columns."""

    freshness_minutes: Mapping[str, float] = field(default_factory=_empty)
    max_update_duration_minutes: float | None = None
    #: table -> column holding the event time; tables not listed use their newest timestamp column
    event_time_columns: Mapping[str, str] = field(default_factory=_empty)


# --- quality and alerts --------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSettings:
    """The alert rules' thresholds: ``quality.min_pass_rate`` and the numbers of the ``alerts`` section."""

    min_pass_rate: Mapping[str, float]
    revenue_zscore_threshold: float = 3.5
    performance_degradation_factor: float = 2.0
    baseline_runs: int = 10
    min_baseline_runs: int = 3
    anomaly_window_days: int = 28
    min_anomaly_history_days: int = 7

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlertSettings:
        """Read ``quality.min_pass_rate`` and ``alerts.*`` from an environment config (keys optional)."""
        from pipeline.config.parse import alert_settings

        return alert_settings(config)


@dataclass(frozen=True)
class SlackSettings:
    """Where the webhook URL comes from (an environment variable name) and how hard to try."""

    webhook_env: str
    timeout_s: float = 10.0
    attempts: int = 3


@dataclass(frozen=True)
class EmailSettings:
    """SMTP relay settings; the password (if any) comes from the environment variable ``password_env``."""

    smtp_host: str
    smtp_port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password_env: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


@dataclass(frozen=True)
class NotificationSettings:
    """The channels configured for an environment; either may be absent."""

    slack: SlackSettings | None = None
    email: EmailSettings | None = None

    @classmethod
    def from_config(cls, alerts: Mapping[str, Any]) -> NotificationSettings:
        """Read the channels of an ``alerts`` section (``slack_webhook_env``, ``email``; docs/monitoring.md)."""
        from pipeline.config.parse import notification_settings

        return notification_settings(alerts)


@dataclass(frozen=True)
class MonitoringSettings:
    """The rules' thresholds (``quality`` + ``alerts``) and the notification channels of one environment."""

    rules: AlertSettings
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MonitoringSettings | None:
        """Parse an environment config; None when it has no ``alerts`` section (alerting off)."""
        from pipeline.config.parse import monitoring_settings

        return monitoring_settings(config)


# --- the whole file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricsConfig:
    """What the metrics export and the alerting after it read: ``export``, ``cost``, ``sla`` and (when
    the config has an ``alerts`` section) the monitoring settings; None means alerting is off."""

    export: ExportSettings = ExportSettings()
    cost: CostSettings = CostSettings()
    sla: SlaSettings = SlaSettings()
    monitoring: MonitoringSettings | None = None


@dataclass(frozen=True)
class IngestionSettings:
    """Auto Loader options of the bronze layer (the ``ingestion`` section)."""

    max_files_per_trigger: int
    schema_evolution_mode: str


@dataclass(frozen=True)
class EnvConfig:
    """A complete, validated environment config.

    Typed sections as attributes (``cfg.metrics.export.port``, ``cfg.ingestion``); ``data`` keeps the
    file as read, frozen, for the comparisons between environments (`config_differences`) and for
    callers that want a raw section (``cfg.section('export')``).
    """

    environment: str
    catalog: str
    schema: str
    volume: str
    paths: Mapping[str, str]
    ingestion: IngestionSettings
    metrics: MetricsConfig
    data: Mapping[str, Any]
    source: str

    def section(self, name: str) -> Mapping[str, Any]:
        return self.data[name]

    def as_dict(self) -> dict[str, Any]:
        """A plain (mutable, JSON-serialisable) copy of the file's content."""
        return _thaw(self.data)


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
