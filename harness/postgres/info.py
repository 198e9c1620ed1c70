"""`PostgresInfo`: how to reach the server a provider gave, in every form our consumers need.

Spark's JDBC writer wants a ``jdbc:postgresql://`` URL plus properties, psycopg2 and psql want a
libpq DSN, dashboards want host/port/database/user. The password is kept out of every printable
form (repr, str, `dsn()`, `jdbc_url()`) and handed over only where a connection is made
(`connect`, `connect_kwargs`, `jdbc_properties`, or `dsn(include_password=True)` on request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from psycopg2.extensions import connection as PgConnection

REDACTED = "***"

#: libpq keywords that pgjdbc understands under another name; others are left out of the JDBC URL.
_JDBC_NAMES = {
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "application_name": "ApplicationName",
    "connect_timeout": "connectTimeout",
    "options": "options",
    "target_session_attrs": "targetServerType",
}

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.@:/+,-]+$")


def quote_libpq(value: str) -> str:
    """Quote a value for a libpq key=value string (single quotes, backslash escapes) when needed."""
    if value and _SAFE_VALUE.match(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class PostgresInfo:
    """Where a provided PostgreSQL listens and as whom to connect; safe to log and print.

    ``provider`` is ``env`` (HARNESS_PG_DSN), ``docker`` (Testcontainers) or ``local`` (the server
    the harness runs in its state directory). ``options`` carries further libpq keywords from the
    user's DSN (``connect_timeout``, ``sslrootcert``, ...). ``passfile`` names a libpq password file
    so that a printed `dsn()` works with psql without containing the password.
    """

    provider: str
    host: str
    port: int
    database: str
    user: str
    sslmode: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    passfile: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        secret = REDACTED if self.password else None
        return (
            f"PostgresInfo(provider={self.provider!r}, host={self.host!r}, port={self.port}, "
            f"database={self.database!r}, user={self.user!r}, sslmode={self.sslmode!r}, "
            f"password={secret!r}, passfile={self.passfile!r}, options={self.options!r})"
        )

    def __str__(self) -> str:
        return self.dsn()

    @property
    def address(self) -> str:
        """``host:port`` as used in messages (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def with_database(self, database: str) -> PostgresInfo:
        """The same server and credentials, another database (e.g. ``postgres`` for CREATE DATABASE)."""
        return replace(self, database=database)

    # --- libpq -----------------------------------------------------------------------------------
    def _libpq_params(self) -> list[tuple[str, str]]:
        params = [
            ("host", self.host),
            ("port", str(self.port)),
            ("dbname", self.database),
            ("user", self.user),
        ]
        if self.sslmode:
            params.append(("sslmode", self.sslmode))
        if self.passfile:
            params.append(("passfile", self.passfile))
        params.extend(self.options)
        return params

    def dsn(self, *, include_password: bool = False) -> str:
        """A libpq key=value DSN. Without the password unless asked: safe to print, log and pass on."""
        params = self._libpq_params()
        if include_password and self.password:
            params.append(("password", self.password))
        return " ".join(f"{key}={quote_libpq(value)}" for key, value in params)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `psycopg2.connect` (and other libpq drivers), password included."""
        kwargs: dict[str, Any] = dict(self._libpq_params())
        kwargs["port"] = self.port
        if self.password:
            kwargs["password"] = self.password
        return kwargs

    def connect(self, **overrides: Any) -> PgConnection:
        """A psycopg2 connection; ``overrides`` replace keywords (``dbname``, ``connect_timeout``, ...)."""
        import psycopg2

        return psycopg2.connect(**{**self.connect_kwargs(), **overrides})

    # --- JDBC ------------------------------------------------------------------------------------
    def jdbc_url(self) -> str:
        """``jdbc:postgresql://host:port/db?user=...``, never with the password (see `jdbc_properties`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        params = [("user", self.user)]
        if self.sslmode:
            params.append(("sslmode", self.sslmode))
        params.extend((_JDBC_NAMES[key], value) for key, value in self.options if key in _JDBC_NAMES)
        query = "&".join(f"{key}={quote(value, safe='')}" for key, value in params)
        return f"jdbc:postgresql://{host}:{self.port}/{quote(self.database, safe='')}?{query}"

    def jdbc_properties(self) -> dict[str, str]:
        """Connection properties for Spark's JDBC reader/writer (``properties=`` / ``.options(**...)``)."""
        props = {"user": self.user, "driver": "org.postgresql.Driver"}
        if self.password:
            props["password"] = self.password
        return props


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced; used on driver error messages."""
    if secret:
        return text.replace(secret, REDACTED)
    return text
