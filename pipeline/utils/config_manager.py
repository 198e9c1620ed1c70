"""The config manager: load an environment config, compare environments, hand values to the pipeline.

Parsing and validation are `pipeline.config`'s (one typed model, validated once; errors name the
environment, the key and the expected type). This module adds what only deployment needs: which keys
may differ between environments (`ENVIRONMENT_SPECIFIC`, `config_differences`, used by
scripts/promote.py) and `pipeline_configuration`, the string map of the pipeline settings'
``configuration`` that the layer modules read back through `RuntimeConfig` (``spark.conf``).
Secrets are never part of a config: only the *names* of environment variables and secret scopes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.config.model import EnvConfig
from pipeline.config.parse import CONFIG_DIR, ENVIRONMENTS, config_from_mapping, load_config
from pipeline.utils.errors import ConfigError
from pipeline.utils.runtime_config import CONF_FIELDS, CONF_PREFIX, RuntimeConfig

__all__ = [
    "CONFIG_DIR",
    "CONF_PREFIX",
    "ENVIRONMENTS",
    "ENVIRONMENT_SPECIFIC",
    "ConfigError",
    "EnvConfig",
    "RuntimeConfig",
    "config_differences",
    "config_from_mapping",
    "load_config",
    "pipeline_configuration",
]

#: Keys whose values may differ between environments (dotted; a prefix covers its whole section).
#: Everything else (rules, thresholds' structure, ingestion options) must be identical, so what
#: is tested in dev is what runs in prod (`config_differences`, scripts/promote.py).
ENVIRONMENT_SPECIFIC: tuple[str, ...] = (
    "environment",
    "catalog",
    "paths",
    "export.enabled",
    "export.host",
    "export.port",
    "export.database",
    "export.user",
    "export.sslmode",
    "export.jdbc_url",
    "export.secret_scope",
    "alerts.slack_webhook_env",
    "alerts.email.smtp_host",
    "alerts.email.smtp_port",
    "alerts.email.sender",
    "alerts.email.recipients",
    "alerts.email.username",
    "alerts.email.password_env",
    "alerts.email.starttls",
    "sla.freshness_minutes",
    "sla.max_update_duration_minutes",
    "cost",
)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out |= _flatten(value, f"{prefix}{key}.")
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): data}


def _specific(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in ENVIRONMENT_SPECIFIC)


def config_differences(a: EnvConfig, b: EnvConfig) -> list[str]:
    """Keys whose values differ between two configs although they are not environment-specific.

    An empty list means the configs differ only in `ENVIRONMENT_SPECIFIC` values. Keys present in
    one config only are reported too (``export.jdbc_url`` is optional and environment-specific).
    """
    flat_a, flat_b = _flatten(a.data), _flatten(b.data)
    problems = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if _specific(key):
            continue
        if key not in flat_a or key not in flat_b:
            problems.append(f"{key}: only in {a.environment if key in flat_a else b.environment}")
        elif flat_a[key] != flat_b[key]:
            problems.append(f"{key}: {a.environment}={flat_a[key]!r} {b.environment}={flat_b[key]!r}")
    return problems


# --- config -> pipeline configuration -> spark.conf ----------------------------------------------


def pipeline_configuration(config: EnvConfig) -> dict[str, str]:
    """The ``configuration`` map of the pipeline settings for ``config`` (all values strings)."""
    out = {}
    for field_name, path in CONF_FIELDS.items():
        value: Any = config.data
        for part in path:
            value = value[part]
        out[CONF_PREFIX + field_name] = str(value)
    return out
