"""Environment configurations (``configurations/<env>_config.json``): load, validate, hand to modules.

One schema (`SCHEMA`) says which keys exist, which are required and their types; `load_config`
checks a file against it and raises `ConfigError` naming the key (``export.port``), the problem
(missing, wrong type, unknown key, unknown environment) and the file. The result is a frozen
`EnvConfig`.

Values reach the pipeline's source files the way Databricks passes them: `pipeline_configuration`
turns a config into the string map of the pipeline settings' ``configuration`` (and of the bundle),
and the modules read it back with ``spark.conf.get`` through `RuntimeConfig.from_spark_conf`.
Secrets are never part of a config: only the *names* of environment variables and secret scopes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "CONFIG_DIR",
    "CONF_PREFIX",
    "ENVIRONMENTS",
    "ENVIRONMENT_SPECIFIC",
    "SCHEMA",
    "ConfigError",
    "EnvConfig",
    "RuntimeConfig",
    "config_differences",
    "load_config",
    "pipeline_configuration",
    "validate_config",
]

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configurations"
#: Prefix of the pipeline ``configuration`` keys (``spark.conf.get("ecommerce.landing_orders")``).
CONF_PREFIX = "ecommerce."


class ConfigError(ValueError):
    """Raised when an environment config is missing, unreadable or does not match `SCHEMA`."""

    def __init__(self, key: str | None, reason: str, source: str = "<dict>") -> None:
        self.key = key
        self.reason = reason
        self.source = source
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


# --- the schema ----------------------------------------------------------------------------------
# A leaf is (type or tuple of types, required). A dict is a section with fixed keys; MapOf(...) is
# a section with free keys (table or rule names) whose values share one type.


@dataclass(frozen=True)
class MapOf:
    """A JSON object with free keys whose values all have ``kind`` (and lie in [low, high])."""

    kind: type | tuple[type, ...]
    required: bool = True
    low: float | None = None
    high: float | None = None


Number = (int, float)
Leaf = tuple[Any, bool]

SCHEMA: dict[str, Any] = {
    "environment": (str, True),
    "catalog": (str, True),
    "schema": (str, True),
    "volume": (str, True),
    "paths": {
        "landing_orders": (str, True),
        "landing_customers": (str, True),
        "manifests": (str, True),
        "checkpoints": (str, True),
        "schemas": (str, True),
    },
    "ingestion": {
        "max_files_per_trigger": (int, True),
        "schema_evolution_mode": (str, True),
    },
    "quality": {
        "min_pass_rate": MapOf(Number, low=0.0, high=1.0),
    },
    "sla": {
        "freshness_minutes": MapOf(Number, low=0.0),
        "max_update_duration_minutes": (Number, True),
        "event_time_columns": MapOf(str, required=False),
    },
    "export": {
        "enabled": (bool, True),
        "host": (str, False),
        "port": (int, True),
        "database": (str, True),
        "user": (str, True),
        "sslmode": (str, True),
        "schema": (str, True),
        "jdbc_url": (str, False),
        "password_env": (str, True),
        "secret_scope": (str, True),
        "secret_key": (str, True),
        # optional keys pipeline/metrics/config.py reads (docs/metrics.md)
        "batch_updates": (int, False),
        "retry": MapOf(Number, required=False, low=0.0),
        "dead_letter_dir": (str, False),
        "staging_schema": (str, False),
    },
    "alerts": {
        "slack_webhook_env": (str, True),
        "email": {
            "smtp_host": (str, True),
            "smtp_port": (int, True),
            "sender": (str, True),
            "recipients": (list, True),
            # optional SMTP login (pipeline/monitoring/notifications.py): the password is read from
            # the environment variable named by password_env, never from the file
            "username": (str, False),
            "password_env": (str, False),
            "starttls": (bool, False),
        },
        "revenue_zscore_threshold": (Number, True),
        "performance_degradation_factor": (Number, True),
        # optional windows of the alert rules (pipeline/monitoring/alerts.py, defaults 10 / 3 / 28 / 7)
        "baseline_runs": (int, False),
        "min_baseline_runs": (int, False),
        "anomaly_window_days": (int, False),
        "min_anomaly_history_days": (int, False),
    },
    "cost": {
        "dbu_per_core_hour": (Number, True),
        "usd_per_dbu": (Number, True),
        "cores": (int, False),
    },
}

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

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
EVOLUTION_MODES = ("addNewColumns", "rescue", "failOnNewColumns", "none")


def _type_name(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true/false"}
    names |= {"list": "a list", "dict": "an object"}
    return " or ".join(dict.fromkeys(names.get(k.__name__, k.__name__) for k in kinds))


def _check_leaf(value: Any, kind: Any, key: str, source: str) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(key, f"expected {_type_name(kind)}, got {value!r}", source)
    if not isinstance(value, kinds):
        raise ConfigError(key, f"expected {_type_name(kind)}, got {type(value).__name__} {value!r}", source)


def _check_section(data: Any, spec: Mapping[str, Any], prefix: str, source: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(
            prefix.rstrip(".") or None, f"expected an object, got {type(data).__name__}", source
        )
    for key in data:
        if key not in spec:
            raise ConfigError(f"{prefix}{key}", f"unknown key; allowed: {', '.join(spec)}", source)
    for key, sub in spec.items():
        name = f"{prefix}{key}"
        required = sub.required if isinstance(sub, MapOf) else sub[1] if isinstance(sub, tuple) else True
        if key not in data or data[key] is None:
            if required:
                raise ConfigError(name, "missing required key", source)
            continue
        value = data[key]
        if isinstance(sub, dict):
            _check_section(value, sub, f"{name}.", source)
        elif isinstance(sub, MapOf):
            if not isinstance(value, Mapping):
                raise ConfigError(name, f"expected an object, got {type(value).__name__}", source)
            for inner, item in value.items():
                _check_leaf(item, sub.kind, f"{name}.{inner}", source)
                if (sub.low is not None and item < sub.low) or (sub.high is not None and item > sub.high):
                    raise ConfigError(
                        f"{name}.{inner}", f"must lie in [{sub.low}, {sub.high}], got {item}", source
                    )
        else:
            _check_leaf(value, sub[0], name, source)


#: Names that end up inside SQL text (Unity Catalog three-part names, the PostgreSQL schema).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _identifiers(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(k, data[k]) for k in ("catalog", "schema", "volume")] + [
        ("export.schema", data["export"]["schema"])
    ]


def validate_config(data: Mapping[str, Any], source: str = "<dict>", environment: str | None = None) -> None:
    """Check a parsed config against `SCHEMA` and the cross-field rules; raise `ConfigError`."""
    _check_section(data, SCHEMA, "", source)
    for key, value in _identifiers(data):
        if not _IDENTIFIER.fullmatch(value) or len(value) > 63:
            raise ConfigError(
                key, f"{value!r} is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*); it goes into SQL", source
            )
    env = data["environment"]
    if env not in ENVIRONMENTS:
        raise ConfigError(
            "environment", f"unknown environment {env!r}; known: {', '.join(ENVIRONMENTS)}", source
        )
    if environment is not None and env != environment:
        raise ConfigError("environment", f"is {env!r} but the file is the {environment!r} config", source)
    root = f"/Volumes/{data['catalog']}/{data['schema']}/{data['volume']}/orders/"
    for key, path in data["paths"].items():
        if not path.startswith(root):
            raise ConfigError(f"paths.{key}", f"{path!r} must lie under {root}", source)
    export = data["export"]
    if export["sslmode"] not in SSL_MODES:
        raise ConfigError(
            "export.sslmode", f"{export['sslmode']!r} is not one of {', '.join(SSL_MODES)}", source
        )
    if not (export.get("host") or export.get("jdbc_url")):
        raise ConfigError("export.host", "give export.host or export.jdbc_url", source)
    if not 0 < export["port"] < 65536:
        raise ConfigError("export.port", f"{export['port']} is not a TCP port", source)
    mode = data["ingestion"]["schema_evolution_mode"]
    if mode not in EVOLUTION_MODES:
        raise ConfigError(
            "ingestion.schema_evolution_mode", f"{mode!r} is not one of {EVOLUTION_MODES}", source
        )
    _check_alerts(data["alerts"], source)


#: alerts keys that must be integers >= 1, and pairs (minimum, window) where minimum <= window
_ALERT_COUNTS = ("baseline_runs", "min_baseline_runs", "anomaly_window_days", "min_anomaly_history_days")
_ALERT_PAIRS = (("min_baseline_runs", "baseline_runs"), ("min_anomaly_history_days", "anomaly_window_days"))
_ALERT_DEFAULTS = {
    "baseline_runs": 10,
    "min_baseline_runs": 3,
    "anomaly_window_days": 28,
    "min_anomaly_history_days": 7,
}


def _check_alerts(alerts: Mapping[str, Any], source: str) -> None:
    """The alert rules' cross-field rules (the same ones `AlertSettings.from_config` enforces)."""
    email = alerts["email"]
    recipients = email["recipients"]
    if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        raise ConfigError("alerts.email.recipients", f"expected e-mail addresses, got {recipients!r}", source)
    if email.get("username") and not email.get("password_env"):
        raise ConfigError(
            "alerts.email.password_env",
            f"required with alerts.email.username ({email['username']!r}): name the variable holding the password",
            source,
        )
    if not 0 < email["smtp_port"] < 65536:
        raise ConfigError("alerts.email.smtp_port", f"{email['smtp_port']} is not a TCP port", source)
    for key in ("revenue_zscore_threshold", "performance_degradation_factor"):
        low = 1.0 if key == "performance_degradation_factor" else 0.0
        if not alerts[key] > low:
            raise ConfigError(f"alerts.{key}", f"must be greater than {low:g}, got {alerts[key]}", source)
    for key in _ALERT_COUNTS:
        if key in alerts and alerts[key] < 1:
            raise ConfigError(f"alerts.{key}", f"must be at least 1, got {alerts[key]}", source)
    for minimum, window in _ALERT_PAIRS:
        low = alerts.get(minimum, _ALERT_DEFAULTS[minimum])
        high = alerts.get(window, _ALERT_DEFAULTS[window])
        if low > high:
            raise ConfigError(
                f"alerts.{minimum}",
                f"{low} exceeds alerts.{window} ({high}): the rule could never fire",
                source,
            )


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class EnvConfig:
    """A validated environment config; sections are read-only mappings (``cfg.section('export')``)."""

    environment: str
    catalog: str
    schema: str
    volume: str
    data: Mapping[str, Any]
    source: str

    def section(self, name: str) -> Mapping[str, Any]:
        return self.data[name]

    @property
    def paths(self) -> Mapping[str, str]:
        return self.data["paths"]

    def as_dict(self) -> dict[str, Any]:
        """A plain (mutable, JSON-serialisable) copy, e.g. for pipeline.metrics' own parser."""
        return _thaw(self.data)


def load_config(environment: str, config_dir: str | os.PathLike[str] | None = None) -> EnvConfig:
    """Load and validate ``<config_dir>/<environment>_config.json`` (default: this pipeline's)."""
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            "environment", f"unknown environment {environment!r}; known: {', '.join(ENVIRONMENTS)}"
        )
    file = Path(config_dir or CONFIG_DIR) / f"{environment}_config.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(None, "file not found", str(file)) from None
    except ValueError as exc:
        raise ConfigError(None, f"not valid JSON ({exc})", str(file)) from exc
    return config_from_mapping(data, str(file), environment)


def config_from_mapping(
    data: Mapping[str, Any], source: str = "<dict>", environment: str | None = None
) -> EnvConfig:
    validate_config(data, source, environment)
    return EnvConfig(
        environment=data["environment"],
        catalog=data["catalog"],
        schema=data["schema"],
        volume=data["volume"],
        data=_freeze(data),
        source=source,
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

_CONF_FIELDS: dict[str, tuple[str, ...]] = {
    "environment": ("environment",),
    "catalog": ("catalog",),
    "schema": ("schema",),
    "landing_orders": ("paths", "landing_orders"),
    "landing_customers": ("paths", "landing_customers"),
    "schema_location": ("paths", "schemas"),
    "max_files_per_trigger": ("ingestion", "max_files_per_trigger"),
    "schema_evolution_mode": ("ingestion", "schema_evolution_mode"),
}


def pipeline_configuration(config: EnvConfig) -> dict[str, str]:
    """The ``configuration`` map of the pipeline settings for ``config`` (all values strings)."""
    out = {}
    for field_name, path in _CONF_FIELDS.items():
        value: Any = config.data
        for part in path:
            value = value[part]
        out[CONF_PREFIX + field_name] = str(value)
    return out


@dataclass(frozen=True)
class RuntimeConfig:
    """What the layer modules need, read from the pipeline configuration (``spark.conf``)."""

    environment: str
    catalog: str
    schema: str
    landing_orders: str
    landing_customers: str
    schema_location: str
    max_files_per_trigger: int
    schema_evolution_mode: str

    @classmethod
    def from_spark_conf(cls, spark: Any) -> RuntimeConfig:
        """Read every key; a missing one raises `ConfigError` naming the configuration key."""
        values: dict[str, Any] = {}
        for field_name in _CONF_FIELDS:
            key = CONF_PREFIX + field_name
            value = spark.conf.get(key, None)
            if value is None:
                raise ConfigError(key, "missing from the pipeline configuration (settings 'configuration')")
            values[field_name] = value
        try:
            values["max_files_per_trigger"] = int(values["max_files_per_trigger"])
        except ValueError:
            raise ConfigError(
                CONF_PREFIX + "max_files_per_trigger",
                f"expected an integer, got {values['max_files_per_trigger']!r}",
            ) from None
        return cls(**values)

    def schema_location_for(self, source: str) -> str:
        """Auto Loader schema location of one source (``.../orders/schemas/<source>``)."""
        return f"{self.schema_location.rstrip('/')}/{source}"
