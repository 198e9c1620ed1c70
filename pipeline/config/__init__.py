"""One home for the environment configs (``pipeline/configurations/<env>_config.json``).

`model` holds the frozen, typed model; `parse` is the one validator that builds it (with `reader`),
from a complete environment file or from only the sections the metrics export and alerting read;
`jdbc` is the one parser of PostgreSQL JDBC URLs; `identifiers` checks names that go into SQL text.
Errors are `pipeline.utils.errors.ConfigError`, naming the environment, the key and the expected type.
Nothing here imports ``harness``, Spark or psycopg2.
"""

from __future__ import annotations

from pipeline.config.model import (
    AlertSettings,
    CostSettings,
    EmailSettings,
    EnvConfig,
    ExportSettings,
    IngestionSettings,
    MetricsConfig,
    MonitoringSettings,
    NotificationSettings,
    RetryPolicy,
    SlackSettings,
    SlaSettings,
)
from pipeline.config.parse import config_from_mapping, load_config, load_metrics_config, parse_metrics_config

__all__ = [
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
    "config_from_mapping",
    "load_config",
    "load_metrics_config",
    "parse_metrics_config",
]
