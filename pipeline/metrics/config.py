"""How the metrics export connects: the ``export`` section of the config model plus the password.

The environment config is parsed and validated once, by `pipeline.config` (its ``export``, ``cost``
and ``sla`` sections become `ExportSettings`, `CostSettings`, `SlaSettings` of a `MetricsConfig`);
the names are imported here for the metrics package's callers. The password is never part of the
configuration: locally it comes from the environment variable named by ``password_env``, on
Databricks from ``dbutils.secrets.get(secret_scope, secret_key)``; it lives only in
`ConnectionSettings`, whose repr hides it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.config.model import (
    DEFAULT_SCHEMA,
    CostSettings,
    ExportSettings,
    MetricsConfig,
    RetryPolicy,
    SlaSettings,
)
from pipeline.config.parse import load_metrics_config, parse_metrics_config
from pipeline.utils.errors import ConfigError


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
        """user@host:port/database: for logs (never the password)."""
        return f"{self.user or '?'}@{self.host}:{self.port}/{self.database}"


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
        raise ConfigError("export.host", settings.host, "no host: set export.host or export.jdbc_url")
    if not settings.database:
        raise ConfigError(
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
    "parse_metrics_config",
    "resolve_password",
]
