"""The one validator of environment configs: JSON in, the frozen model of `pipeline.config.model` out.

Every section has exactly one parser here, strict about unknown keys, types and ranges; an error is a
`ConfigError` naming the environment (when known), the dotted key, the value and the expected type.
Two entry points share those parsers:

* `config_from_mapping` / `load_config`: a complete ``<env>_config.json`` (every key a deployed
  pipeline needs must be present, unknown top-level sections are refused, the cross-field rules of a
  deployment apply: paths under the volume, the environment's name, a host to export to). The config
  manager (`pipeline.utils.config_manager`) and the deployment checks use it.
* `parse_metrics_config` / `load_metrics_config`: only the sections the metrics export and the alerting
  read (``export``, ``cost``, ``sla``, and ``quality`` + ``alerts`` when ``alerts`` is present); a
  missing key takes its default and other top-level sections are left to their owners, so a job or a
  test can pass a small file. The same section parsers check the same rules.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.config.identifiers import check_identifier, check_qualified
from pipeline.config.jdbc import parse_jdbc_url
from pipeline.config.model import (
    DEFAULT_SCHEMA,
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
from pipeline.config.reader import Reader
from pipeline.utils.errors import ConfigError

__all__ = [
    "CONFIG_DIR",
    "ENVIRONMENTS",
    "EVOLUTION_MODES",
    "SSL_MODES",
    "alert_settings",
    "config_from_mapping",
    "load_config",
    "load_metrics_config",
    "monitoring_settings",
    "notification_settings",
    "parse_metrics_config",
    "read_config_file",
]

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configurations"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
EVOLUTION_MODES = ("addNewColumns", "rescue", "failOnNewColumns", "none")

TOP_KEYS = (
    "environment",
    "catalog",
    "schema",
    "volume",
    "paths",
    "ingestion",
    "quality",
    "sla",
    "export",
    "alerts",
    "cost",
)
PATH_KEYS = ("landing_orders", "landing_customers", "manifests", "checkpoints", "schemas")
EXPORT_KEYS = tuple(ExportSettings.__dataclass_fields__)
RETRY_KEYS = tuple(RetryPolicy.__dataclass_fields__)
COST_KEYS = ("dbu_per_core_hour", "usd_per_dbu", "cores")
SLA_KEYS = ("freshness_minutes", "max_update_duration_minutes", "event_time_columns")
#: alerts keys: the rules' numbers (with their lower bounds, exclusive) and the channels
ALERT_RULES: dict[str, tuple[type, float]] = {
    "revenue_zscore_threshold": (float, 0.0),
    "performance_degradation_factor": (float, 1.0),
    "baseline_runs": (int, 0),
    "min_baseline_runs": (int, 0),
    "anomaly_window_days": (int, 0),
    "min_anomaly_history_days": (int, 0),
}
#: rule numbers a complete file must give (the windows are optional everywhere)
ALERT_RULES_IN_FILE = ("revenue_zscore_threshold", "performance_degradation_factor")
ALERT_KEYS = (*ALERT_RULES, "slack_webhook_env", "email")
EMAIL_KEYS = ("smtp_host", "smtp_port", "sender", "recipients", "username", "password_env", "starttls")
#: (minimum, window): the minimum history a rule needs cannot exceed the window it looks at
ALERT_PAIRS = (("min_baseline_runs", "baseline_runs"), ("min_anomaly_history_days", "anomaly_window_days"))

# --- sections ------------------------------------------------------------------------------------


def _retry(r: Reader, export: Mapping[str, Any]) -> RetryPolicy:
    raw = r.section(export, "export.retry", RETRY_KEYS, in_file=False)
    return RetryPolicy(
        max_attempts=r.value(raw, "export.retry.max_attempts", int, default=5, above=0),
        initial_wait_s=r.value(raw, "export.retry.initial_wait_s", float, default=0.5, low=0),
        max_wait_s=r.value(raw, "export.retry.max_wait_s", float, default=30.0, low=0),
        jitter_s=r.value(raw, "export.retry.jitter_s", float, default=0.5, low=0),
    )


def _export(r: Reader, config: Mapping[str, Any]) -> ExportSettings:
    raw = r.section(config, "export", EXPORT_KEYS)
    values: dict[str, Any] = {}
    for key, in_file in (
        ("host", False),
        ("database", True),
        ("user", True),
        ("sslmode", True),
        ("schema", True),
        ("jdbc_url", False),
        ("password_env", True),
        ("secret_scope", True),
        ("secret_key", True),
        ("dead_letter_dir", False),
        ("staging_schema", False),
    ):
        values[key] = r.value(raw, f"export.{key}", str, in_file=in_file)
    values["port"] = r.value(raw, "export.port", int, in_file=True, low=1, high=65535)
    enabled = r.value(raw, "export.enabled", bool, default=False, in_file=True)
    batch_updates = r.value(raw, "export.batch_updates", int, default=20, above=0)
    if values["jdbc_url"]:
        target = parse_jdbc_url(values["jdbc_url"], "export.jdbc_url")
        for key, parsed in (
            ("host", target.host),
            ("port", target.port),
            ("database", target.database),
            ("user", target.user),
            ("sslmode", target.sslmode),
        ):
            if parsed is None:
                continue
            if values[key] is not None and values[key] != parsed:
                raise r.error(
                    f"export.{key}",
                    values[key],
                    f"contradicts export.jdbc_url ({parsed!r}); give one of them",
                )
            values[key] = parsed
    if values["sslmode"] is not None and values["sslmode"] not in SSL_MODES:
        raise r.error(
            "export.sslmode", values["sslmode"], f"must be one of {', '.join(SSL_MODES)}", "an sslmode"
        )
    if bool(values["secret_scope"]) != bool(values["secret_key"]):
        raise r.error(
            "export.secret_scope", values["secret_scope"], "secret_scope and secret_key go together"
        )
    if r.complete and not values["host"]:
        raise r.error("export.host", None, "give export.host or export.jdbc_url")
    # both end up inside SQL text: plain identifiers only (an injection attempt fails here, by key)
    schema = check_identifier("export.schema", values["schema"] or DEFAULT_SCHEMA, **r.where)
    if values["staging_schema"] is not None:
        check_qualified("export.staging_schema", values["staging_schema"], **r.where)
    return ExportSettings(
        enabled=enabled,
        host=values["host"],
        port=values["port"] or 5432,
        database=values["database"],
        user=values["user"],
        sslmode=values["sslmode"],
        schema=schema,
        jdbc_url=values["jdbc_url"],
        password_env=values["password_env"],
        secret_scope=values["secret_scope"],
        secret_key=values["secret_key"],
        batch_updates=batch_updates,
        retry=_retry(r, raw),
        dead_letter_dir=values["dead_letter_dir"],
        staging_schema=values["staging_schema"],
    )


def _cost(r: Reader, config: Mapping[str, Any]) -> CostSettings:
    raw = r.section(config, "cost", COST_KEYS)
    return CostSettings(
        dbu_per_core_hour=r.value(raw, "cost.dbu_per_core_hour", float, default=0.0, in_file=True, low=0),
        usd_per_dbu=r.value(raw, "cost.usd_per_dbu", float, default=0.0, in_file=True, low=0),
        cores=r.value(raw, "cost.cores", int, above=0),
    )


def _sla(r: Reader, config: Mapping[str, Any]) -> SlaSettings:
    raw = r.section(config, "sla", SLA_KEYS)
    return SlaSettings(
        freshness_minutes=r.mapping(raw, "sla.freshness_minutes", float, in_file=True, above=0),
        max_update_duration_minutes=r.value(
            raw, "sla.max_update_duration_minutes", float, in_file=True, above=0
        ),
        event_time_columns=r.mapping(raw, "sla.event_time_columns", str),
    )


def _alert_rules(r: Reader, config: Mapping[str, Any]) -> AlertSettings:
    quality = r.section(config, "quality", ("min_pass_rate",))
    rates = r.mapping(quality, "quality.min_pass_rate", float, in_file=True, low=0, high=1)
    alerts = r.section(config, "alerts", ALERT_KEYS)
    values = {
        key: r.value(alerts, f"alerts.{key}", kind, in_file=key in ALERT_RULES_IN_FILE, above=low)
        for key, (kind, low) in ALERT_RULES.items()
    }
    settings = AlertSettings(min_pass_rate=rates, **{k: v for k, v in values.items() if v is not None})
    for minimum, window in ALERT_PAIRS:
        if getattr(settings, minimum) > getattr(settings, window):
            raise r.error(
                f"alerts.{minimum}",
                getattr(settings, minimum),
                f"exceeds alerts.{window} ({getattr(settings, window)}): the rule could never fire",
            )
    return settings


def _notifications(r: Reader, alerts: Mapping[str, Any]) -> NotificationSettings:
    webhook_env = r.value(alerts, "alerts.slack_webhook_env", str, in_file=True)
    if webhook_env is not None and not webhook_env.strip():
        raise r.error("alerts.slack_webhook_env", webhook_env, "must name an environment variable")
    email = r.section(alerts, "alerts.email", EMAIL_KEYS)
    return NotificationSettings(
        slack=SlackSettings(webhook_env=webhook_env) if webhook_env is not None else None,
        email=_email(r, email) if email else None,
    )


def _email(r: Reader, raw: Mapping[str, Any]) -> EmailSettings:
    host = r.value(raw, "alerts.email.smtp_host", str, required=True)
    port = r.value(raw, "alerts.email.smtp_port", int, required=True, low=1, high=65535)
    sender = r.value(raw, "alerts.email.sender", str, required=True)
    recipients = raw.get("recipients")
    if recipients is None:
        raise r.missing("alerts.email.recipients")
    if isinstance(recipients, str):
        recipients = [recipients]
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(x, str) and "@" in x for x in recipients)
    ):
        raise r.error(
            "alerts.email.recipients", recipients, "must be a non-empty list of e-mail addresses", "a list"
        )
    username = r.value(raw, "alerts.email.username", str)
    password_env = r.value(raw, "alerts.email.password_env", str)
    if username and not password_env:
        raise r.error(
            "alerts.email.password_env",
            None,
            f"required with alerts.email.username ({username!r}): name the variable holding the password",
        )
    return EmailSettings(
        smtp_host=host,
        smtp_port=port,
        sender=sender,
        recipients=tuple(recipients),
        username=username,
        password_env=password_env,
        starttls=r.value(raw, "alerts.email.starttls", bool, default=False),
    )


def _monitoring(r: Reader, config: Mapping[str, Any]) -> MonitoringSettings | None:
    alerts = config.get("alerts")
    if not alerts and not r.complete:
        return None
    rules = _alert_rules(r, config)
    return MonitoringSettings(rules, _notifications(r, r.section(config, "alerts", ALERT_KEYS)))


def _metrics(r: Reader, config: Mapping[str, Any]) -> MetricsConfig:
    return MetricsConfig(
        export=_export(r, config),
        cost=_cost(r, config),
        sla=_sla(r, config),
        monitoring=_monitoring(r, config),
    )


def _partial(config: Mapping[str, Any], source: str | None = None) -> Reader:
    name = config.get("environment") if isinstance(config, Mapping) else None
    return Reader(complete=False, environment=name if isinstance(name, str) else None, source=source)


# --- entry points --------------------------------------------------------------------------------


def parse_metrics_config(config: Mapping[str, Any], source: str | None = None) -> MetricsConfig:
    """The sections the metrics export and alerting read; missing keys take their defaults."""
    if not isinstance(config, Mapping):
        raise ConfigError("config", config, "must be a JSON object", source=source, expected="an object")
    return _metrics(_partial(config, source), config)


def alert_settings(config: Mapping[str, Any]) -> AlertSettings:
    """``quality.min_pass_rate`` and the ``alerts`` rule numbers of a config (optional keys)."""
    return _alert_rules(_partial(config), config)


def notification_settings(alerts: Mapping[str, Any]) -> NotificationSettings:
    """The channels of an ``alerts`` section."""
    r = Reader(complete=False)
    return _notifications(r, r.section({"alerts": alerts}, "alerts", ALERT_KEYS))


def monitoring_settings(config: Mapping[str, Any]) -> MonitoringSettings | None:
    """Rules and channels; None when the config has no ``alerts`` section (alerting off)."""
    return _monitoring(_partial(config), config)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def config_from_mapping(
    data: Mapping[str, Any], source: str = "<dict>", environment: str | None = None
) -> EnvConfig:
    """A complete environment config, validated; ``environment`` is the name the file is loaded as."""
    named = data.get("environment") if isinstance(data, Mapping) else None
    r = Reader(
        complete=True, environment=environment or (named if isinstance(named, str) else None), source=source
    )
    if not isinstance(data, Mapping):
        raise r.error("config", data, "must be a JSON object", "an object")
    top = r.section({"config": data}, "config", TOP_KEYS)
    name = r.value(top, "environment", str, in_file=True)
    if name not in ENVIRONMENTS:
        raise r.error("environment", name, f"unknown environment; known: {', '.join(ENVIRONMENTS)}")
    if environment is not None and name != environment:
        raise r.error("environment", name, f"the file is the {environment!r} config")
    names = {key: r.value(top, key, str, in_file=True) for key in ("catalog", "schema", "volume")}
    for key, value in names.items():  # Unity Catalog names go into SQL text
        check_identifier(key, value, **r.where)
    paths_raw = r.section(top, "paths", PATH_KEYS)
    root = f"/Volumes/{names['catalog']}/{names['schema']}/{names['volume']}/orders/"
    paths = {}
    for key in PATH_KEYS:
        path = r.value(paths_raw, f"paths.{key}", str, in_file=True)
        if not path.startswith(root):
            raise r.error(f"paths.{key}", path, f"must lie under {root}")
        paths[key] = path
    ingestion_raw = r.section(top, "ingestion", ("max_files_per_trigger", "schema_evolution_mode"))
    ingestion = IngestionSettings(
        max_files_per_trigger=r.value(
            ingestion_raw, "ingestion.max_files_per_trigger", int, in_file=True, above=0
        ),
        schema_evolution_mode=r.value(ingestion_raw, "ingestion.schema_evolution_mode", str, in_file=True),
    )
    if ingestion.schema_evolution_mode not in EVOLUTION_MODES:
        raise r.error(
            "ingestion.schema_evolution_mode",
            ingestion.schema_evolution_mode,
            f"must be one of {', '.join(EVOLUTION_MODES)}",
        )
    return EnvConfig(
        environment=name,
        catalog=names["catalog"],
        schema=names["schema"],
        volume=names["volume"],
        paths=MappingProxyType(paths),
        ingestion=ingestion,
        metrics=_metrics(r, top),
        data=_freeze(data),
        source=source,
    )


def read_config_file(path: str | os.PathLike[str], environment: str | None = None) -> Mapping[str, Any]:
    """The JSON object in ``path``; `ConfigError` (key ``config``) when it is missing or not an object."""
    file = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", file, "file not found", environment=environment, source=file) from None
    except ValueError as exc:
        raise ConfigError(
            "config", file, f"not valid JSON ({exc})", environment=environment, source=file
        ) from None
    if not isinstance(data, Mapping):
        raise ConfigError("config", file, "must be a JSON object", environment=environment, source=file)
    return data


def load_config(environment: str, config_dir: str | os.PathLike[str] | None = None) -> EnvConfig:
    """Load and validate ``<config_dir>/<environment>_config.json`` (default: this pipeline's)."""
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            "environment", environment, f"unknown environment; known: {', '.join(ENVIRONMENTS)}"
        )
    file = Path(config_dir or CONFIG_DIR) / f"{environment}_config.json"
    return config_from_mapping(read_config_file(file, environment), str(file), environment)


def load_metrics_config(path: str | os.PathLike[str]) -> MetricsConfig:
    """Read a config file and parse the sections the metrics export and alerting read."""
    return parse_metrics_config(read_config_file(path), str(path))
