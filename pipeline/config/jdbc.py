"""The one parser of PostgreSQL JDBC URLs (``jdbc:postgresql://host[:port]/db?user=...``).

Databricks Lakebase shows its connection details in this form, and two places take one: the
``export.jdbc_url`` key of an environment config and the harness's ``HARNESS_PG_DSN`` (which uses
this module; `pipeline/` never imports the harness). The grammar follows pgjdbc, the driver such a
URL is written for (docs/postgres.md, "JDBC URLs"):

* one host (a comma-separated list is refused: failover is not supported here); IPv6 in brackets;
* the user is a parameter (``?user=...``); ``user@host`` is refused, because pgjdbc reads no user
  from the authority and would take ``user@host`` for a host name;
* a password is refused wherever it appears: JDBC URLs get pasted into notebooks, logs and tickets;
* ``sslmode=...`` wins; otherwise ``ssl=true`` (or ``ssl=1``, or a bare ``ssl``) means ``require``;
* parameters with a libpq meaning are kept under their libpq names; pgjdbc-only ones
  (``prepareThreshold``, ``tcpKeepAlive``, ...) are dropped.

Errors are `ConfigError` under the caller's key, with the URL's password (if any) replaced by ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, unquote, urlsplit

from pipeline.utils.errors import ConfigError

__all__ = ["JDBC_PREFIX", "JdbcTarget", "parse_jdbc_url", "redact_jdbc_url"]

JDBC_PREFIX = "jdbc:postgresql://"
#: JDBC parameter names (lower case) that map onto libpq keywords; user and sslmode are fields.
LIBPQ_PARAMETERS = {
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "applicationname": "application_name",
    "connecttimeout": "connect_timeout",
    "options": "options",
}
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_USERINFO_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")


@dataclass(frozen=True)
class JdbcTarget:
    """What a JDBC URL names; ``port`` is None when the URL gives none (the caller's default applies)."""

    host: str
    port: int | None
    database: str | None
    user: str | None
    sslmode: str | None
    #: other libpq keywords the URL set (``application_name``, ``sslrootcert``, ...)
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def libpq(self) -> dict[str, str]:
        """libpq keyword -> value, as ``psycopg2.extensions.parse_dsn`` returns them."""
        out = {"host": self.host}
        if self.port is not None:
            out["port"] = str(self.port)
        if self.database:
            out["dbname"] = self.database
        if self.user:
            out["user"] = self.user
        if self.sslmode:
            out["sslmode"] = self.sslmode
        return out | dict(self.options)


def redact_jdbc_url(url: str) -> str:
    """The URL with any password (query parameter or ``user:password@``) replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(r"\g<1>***@", _QUERY_PASSWORD.sub(r"\g<1>***", url))


def parse_jdbc_url(url: str, key: str = "export.jdbc_url") -> JdbcTarget:
    """The target of ``url``; `ConfigError` under ``key`` when pgjdbc would not accept it the same way."""
    shown = redact_jdbc_url(url)

    def bad(reason: str) -> ConfigError:
        return ConfigError(key, shown, reason, expected=f"{JDBC_PREFIX}host[:port]/database?user=...")

    if not url.lower().startswith(JDBC_PREFIX):
        raise bad(f"must start with {JDBC_PREFIX}")
    parts = urlsplit(url[len("jdbc:") :])
    netloc = parts.netloc
    params = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is not None or any(k.lower() == "password" for k, _ in params):
        raise bad(
            "must not contain a password; pass it separately (an environment variable or a secret scope)"
        )
    if "@" in netloc:
        raise bad("takes the user as ?user=..., not user@host")
    if "," in netloc:
        raise bad("names several hosts; name one host")
    if not netloc:
        raise bad("names no host")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise bad(f"has a bad port ({exc})") from None
    if not host:
        raise bad("names no host")
    user = sslmode = None
    ssl = False
    options: dict[str, str] = {}
    for name, value in params:
        lowered = name.lower()
        if lowered == "user":
            user = value or None
        elif lowered == "sslmode":
            sslmode = value
        elif lowered == "ssl":
            ssl = value.lower() in ("true", "1", "")
        elif lowered in LIBPQ_PARAMETERS:
            options[LIBPQ_PARAMETERS[lowered]] = value
    return JdbcTarget(
        host=host,
        port=port,
        database=unquote(parts.path.lstrip("/")) or None,
        user=user,
        sslmode=sslmode or ("require" if ssl else None),
        options=MappingProxyType(options),
    )
