"""The ``export``, ``cost`` and ``sla`` sections of an environment config, parsed once into frozen objects.

The environment configs (``pipeline/configurations/<env>_config.json``) are shared with other parts
of the pipeline, so only these three sections are read here, each strictly: unknown keys and wrong
types raise `MetricsConfigError` naming the key. The password is never part of the configuration:
locally it comes from the environment variable named by ``password_env``, on Databricks from
``dbutils.secrets.get(secret_scope, secret_key)``; it lives only in `ConnectionSettings`, whose repr
hides it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pipeline.metrics.errors import MetricsConfigError
from pipeline.metrics.identifiers import check_identifier, check_qualified

DEFAULT_SCHEMA = "pipeline_monitoring"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


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

    freshness_minutes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    max_update_duration_minutes: float | None = None
    #: table -> column holding the event time; tables not listed use their newest timestamp column
    event_time_columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class MetricsConfig:
    export: ExportSettings = ExportSettings()
    cost: CostSettings = CostSettings()
    sla: SlaSettings = SlaSettings()
    #: alert rules and channels evaluated after each export (`pipeline.monitoring.alert_job.MonitoringSettings`,
    #: from the ``quality`` and ``alerts`` sections); None when the config has no ``alerts`` section
    monitoring: Any = None


@dataclass(frozen=True)
class ConnectionSettings:
    """What psycopg2 needs; `password` is excluded from repr and comparisons."""

    host: str
    port: int
    database: str
    user: str | None
    sslmode: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)

    def connect_kwargs(self, connect_timeout: int = 10) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "connect_timeout": connect_timeout,
        }
        if self.user:
            kwargs["user"] = self.user
        if self.sslmode:
            kwargs["sslmode"] = self.sslmode
        if self.password is not None:
            kwargs["password"] = self.password
        return kwargs

    def connect(self, connect_timeout: int = 10) -> Any:
        import psycopg2

        return psycopg2.connect(**self.connect_kwargs(connect_timeout))

    def describe(self) -> str:
        """host:port/database as user: for logs (never the password)."""
        return f"{self.user or '?'}@{self.host}:{self.port}/{self.database}"


# --- parsing -------------------------------------------------------------------------------------

_EXPORT_KEYS = {f for f in ExportSettings.__dataclass_fields__}
_RETRY_KEYS = {f for f in RetryPolicy.__dataclass_fields__}


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise MetricsConfigError(name, value, "must be a JSON object")
    return value


def _check_keys(section: str, value: Mapping[str, Any], allowed: set[str]) -> None:
    for key in value:
        if key not in allowed:
            raise MetricsConfigError(
                f"{section}.{key}", value[key], f"unknown key; allowed: {', '.join(sorted(allowed))}"
            )


def _typed(
    section: str, key: str, value: Any, kind: type | tuple[type, ...], *, positive: bool = False
) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise MetricsConfigError(f"{section}.{key}", value, f"must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise MetricsConfigError(f"{section}.{key}", value, f"must be {_kind_name(kind)}")
    if positive and value <= 0:
        raise MetricsConfigError(f"{section}.{key}", value, "must be greater than 0")
    if not positive and isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise MetricsConfigError(f"{section}.{key}", value, "must not be negative")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {"str": "a string", "int": "an integer", "float": "a number", "bool": "true/false"}.get(
            k.__name__, k.__name__
        )
        for k in kinds
    )


def parse_jdbc_url(url: str) -> dict[str, Any]:
    """host, port, database, user, sslmode from ``jdbc:postgresql://host:port/db?...`` (as Lakebase shows).

    ``ssl=true`` means ``sslmode=require``; a password in the URL is refused (use password_env or the
    secret scope), other pgjdbc-only parameters are ignored.
    """
    if not url.startswith("jdbc:postgresql://"):
        raise MetricsConfigError("export.jdbc_url", url.split("?")[0], "must start with jdbc:postgresql://")
    parts = urlsplit(url[len("jdbc:") :])
    params = {k.lower(): v for k, v in parse_qsl(parts.query)}
    if "password" in params or parts.password:
        raise MetricsConfigError(
            "export.jdbc_url",
            url.split("?")[0] + "?password=***",
            "must not contain a password; use password_env or secret_scope/secret_key",
        )
    if "," in (parts.netloc or ""):
        raise MetricsConfigError("export.jdbc_url", url.split("?")[0], "only one host is supported")
    result: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 5432}
    database = unquote(parts.path.lstrip("/"))
    if database:
        result["database"] = database
    user = params.get("user") or (unquote(parts.username) if parts.username else None)
    if user:
        result["user"] = user
    if "sslmode" in params:
        result["sslmode"] = params["sslmode"]
    elif params.get("ssl", "").lower() == "true":
        result["sslmode"] = "require"
    return result


def _parse_retry(value: Any) -> RetryPolicy:
    if value is None:
        return RetryPolicy()
    if not isinstance(value, Mapping):
        raise MetricsConfigError("export.retry", value, "must be a JSON object")
    _check_keys("export.retry", value, _RETRY_KEYS)
    return RetryPolicy(
        max_attempts=_typed("export.retry", "max_attempts", value.get("max_attempts", 5), int, positive=True),
        initial_wait_s=float(
            _typed("export.retry", "initial_wait_s", value.get("initial_wait_s", 0.5), (int, float))
        ),
        max_wait_s=float(_typed("export.retry", "max_wait_s", value.get("max_wait_s", 30.0), (int, float))),
        jitter_s=float(_typed("export.retry", "jitter_s", value.get("jitter_s", 0.5), (int, float))),
    )


def parse_export(raw: Mapping[str, Any]) -> ExportSettings:
    _check_keys("export", raw, _EXPORT_KEYS)
    values: dict[str, Any] = {}
    for key in (
        "host",
        "database",
        "user",
        "sslmode",
        "schema",
        "jdbc_url",
        "password_env",
        "secret_scope",
        "secret_key",
        "dead_letter_dir",
        "staging_schema",
    ):
        values[key] = _typed("export", key, raw.get(key), str)
    values["port"] = _typed("export", "port", raw.get("port"), int, positive=True)
    values["enabled"] = bool(_typed("export", "enabled", raw.get("enabled", False), bool))
    batch = _typed("export", "batch_updates", raw.get("batch_updates", 20), int, positive=True)
    if values["jdbc_url"]:
        for key, parsed in parse_jdbc_url(values["jdbc_url"]).items():
            if values.get(key) is not None and values[key] != parsed:
                raise MetricsConfigError(
                    f"export.{key}",
                    values[key],
                    f"contradicts export.jdbc_url ({parsed!r}); give one of them",
                )
            values[key] = parsed
    if values["sslmode"] is not None and values["sslmode"] not in SSL_MODES:
        raise MetricsConfigError(
            "export.sslmode", values["sslmode"], f"must be one of {', '.join(SSL_MODES)}"
        )
    if bool(values["secret_scope"]) != bool(values["secret_key"]):
        raise MetricsConfigError(
            "export.secret_scope", values["secret_scope"], "secret_scope and secret_key go together"
        )
    # both end up inside SQL text: plain identifiers only (an injection attempt fails here, by key)
    schema = check_identifier("export.schema", values["schema"] or DEFAULT_SCHEMA)
    if values["staging_schema"] is not None:
        check_qualified("export.staging_schema", values["staging_schema"])
    return ExportSettings(
        enabled=values["enabled"],
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
        batch_updates=batch,
        retry=_parse_retry(raw.get("retry")),
        dead_letter_dir=values["dead_letter_dir"],
        staging_schema=values["staging_schema"],
    )


def _minutes_map(section: str, key: str, value: Any) -> Mapping[str, float]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise MetricsConfigError(f"{section}.{key}", value, "must be a JSON object {table: minutes}")
    out = {}
    for table, minutes in value.items():
        out[str(table)] = float(_typed(section, f"{key}.{table}", minutes, (int, float), positive=True))
    return MappingProxyType(out)


def parse_metrics_config(raw: Mapping[str, Any]) -> MetricsConfig:
    """The three sections of an environment config, plus the alerting settings when ``alerts`` is present
    (other sections are ignored: they belong to others)."""
    export = parse_export(_section(raw, "export"))
    cost_raw = _section(raw, "cost")
    _check_keys("cost", cost_raw, {"dbu_per_core_hour", "usd_per_dbu", "cores"})
    cost = CostSettings(
        dbu_per_core_hour=float(
            _typed("cost", "dbu_per_core_hour", cost_raw.get("dbu_per_core_hour", 0.0), (int, float))
        ),
        usd_per_dbu=float(_typed("cost", "usd_per_dbu", cost_raw.get("usd_per_dbu", 0.0), (int, float))),
        cores=_typed("cost", "cores", cost_raw.get("cores"), int, positive=True),
    )
    sla_raw = _section(raw, "sla")
    _check_keys("sla", sla_raw, {"freshness_minutes", "max_update_duration_minutes", "event_time_columns"})
    columns = sla_raw.get("event_time_columns") or {}
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
        raise MetricsConfigError("sla.event_time_columns", columns, "must be a JSON object {table: column}")
    max_minutes = _typed(
        "sla",
        "max_update_duration_minutes",
        sla_raw.get("max_update_duration_minutes"),
        (int, float),
        positive=True,
    )
    sla = SlaSettings(
        freshness_minutes=_minutes_map("sla", "freshness_minutes", sla_raw.get("freshness_minutes")),
        max_update_duration_minutes=float(max_minutes) if max_minutes is not None else None,
        event_time_columns=MappingProxyType(dict(columns)),
    )
    return MetricsConfig(export=export, cost=cost, sla=sla, monitoring=_monitoring(raw))


def _monitoring(raw: Mapping[str, Any]) -> Any:
    """The alerting settings, parsed by pipeline.monitoring (imported here only when configured)."""
    if not raw.get("alerts"):
        return None
    from pipeline.monitoring.alert_job import MonitoringSettings
    from pipeline.monitoring.errors import AlertConfigError

    try:
        return MonitoringSettings.from_config(raw)
    except AlertConfigError as exc:
        raise MetricsConfigError(exc.key, exc.value, exc.reason) from exc


def load_metrics_config(path: str | os.PathLike[str]) -> MetricsConfig:
    """Read an environment config JSON file and parse its metrics sections."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MetricsConfigError("config", str(file), "file not found") from exc
    except ValueError as exc:
        raise MetricsConfigError("config", str(file), f"not valid JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise MetricsConfigError("config", str(file), "must be a JSON object")
    return parse_metrics_config(raw)


def resolve_password(
    settings: ExportSettings,
    environ: Mapping[str, str] | None = None,
    secrets_get: Callable[[str, str], str] | None = None,
) -> str | None:
    """The password: Databricks secret scope when `secrets_get` (``dbutils.secrets.get``) is given and
    configured, else the environment variable ``password_env``; None when neither is set."""
    if secrets_get is not None and settings.secret_scope and settings.secret_key:
        return secrets_get(settings.secret_scope, settings.secret_key)
    if settings.password_env:
        env = os.environ if environ is None else environ
        return env.get(settings.password_env)
    return None


def connection_settings(
    settings: ExportSettings,
    environ: Mapping[str, str] | None = None,
    secrets_get: Callable[[str, str], str] | None = None,
) -> ConnectionSettings:
    """Connection parameters from the ``export`` section; host and database are required here."""
    if not settings.host:
        raise MetricsConfigError("export.host", settings.host, "no host: set export.host or export.jdbc_url")
    if not settings.database:
        raise MetricsConfigError(
            "export.database", settings.database, "no database: set export.database or export.jdbc_url"
        )
    return ConnectionSettings(
        host=settings.host,
        port=settings.port,
        database=settings.database,
        user=settings.user,
        sslmode=settings.sslmode,
        password=resolve_password(settings, environ, secrets_get),
    )


__all__ = [
    "DEFAULT_SCHEMA",
    "ConnectionSettings",
    "CostSettings",
    "ExportSettings",
    "MetricsConfig",
    "RetryPolicy",
    "SlaSettings",
    "connection_settings",
    "load_metrics_config",
    "parse_export",
    "parse_jdbc_url",
    "parse_metrics_config",
    "resolve_password",
]
