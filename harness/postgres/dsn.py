"""Provider (a): an existing server named by ``HARNESS_PG_DSN``.

Accepted forms: a libpq URL (``postgresql://user@host:5432/db?sslmode=require``), a libpq key=value
string (``host=... dbname=...``) and a JDBC URL (``jdbc:postgresql://host:5432/db?user=...&
sslmode=require``) as Databricks Lakebase shows it. The password comes from
``HARNESS_PG_PASSWORD`` (then a password inside a libpq DSN, then ``PGPASSWORD``); a JDBC URL
must not carry one, because JDBC URLs get pasted into notebooks, logs and tickets.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from harness.errors import PostgresConfigError
from harness.postgres.info import REDACTED, PostgresInfo

DSN_ENV = "HARNESS_PG_DSN"
PASSWORD_ENV = "HARNESS_PG_PASSWORD"
LIBPQ_PASSWORD_ENV = "PGPASSWORD"

_HINT = (
    "use a libpq URL (postgresql://user@host:5432/db?sslmode=require), a key=value string "
    "('host=... port=5432 dbname=... user=...') or a JDBC URL (jdbc:postgresql://host:5432/db?user=...)"
)

#: JDBC parameter names that map onto libpq keywords.
_FROM_JDBC = {
    "user": "user",
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
    "applicationname": "application_name",
    "connecttimeout": "connect_timeout",
    "options": "options",
}

_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redact_dsn(text: str) -> str:
    """The DSN with any password (key=value, URL userinfo or query parameter) replaced by ***."""
    text = _KV_PASSWORD.sub(rf"\g<1>{REDACTED}", text)
    text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
    return _QUERY_PASSWORD.sub(rf"\g<1>{REDACTED}", text)


def parse_jdbc_url(url: str) -> dict[str, str]:
    """libpq keywords from ``jdbc:postgresql://host[:port]/db?user=...``; refuses an embedded password."""
    shown = redact_dsn(url)
    rest = url[len("jdbc:") :]
    parts = urlsplit(rest)
    if parts.scheme != "postgresql":
        raise PostgresConfigError(DSN_ENV, shown, f"a JDBC URL must start with jdbc:postgresql://; {_HINT}")
    netloc = parts.netloc
    if "@" in netloc:
        raise PostgresConfigError(DSN_ENV, shown, "a JDBC URL takes the user as ?user=..., not user@host")
    if "," in netloc:
        raise PostgresConfigError(DSN_ENV, shown, "several hosts are not supported; name one host")
    if not netloc:
        raise PostgresConfigError(DSN_ENV, shown, f"the JDBC URL names no host; {_HINT}")
    params: dict[str, str] = {}
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise PostgresConfigError(DSN_ENV, shown, f"bad port in the JDBC URL ({exc})") from None
    params["host"] = host or ""
    if port is not None:
        params["port"] = str(port)
    database = unquote(parts.path.lstrip("/"))
    if database:
        params["dbname"] = database
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        lowered = key.lower()
        if lowered == "password":
            raise PostgresConfigError(
                DSN_ENV,
                shown,
                f"the JDBC URL contains a password; remove it and put the password in {PASSWORD_ENV} "
                f"(or {LIBPQ_PASSWORD_ENV}) instead",
            )
        if lowered == "ssl" and value.lower() in ("true", "1", "") and "sslmode" not in params:
            params["sslmode"] = "require"
        elif lowered in _FROM_JDBC:
            params[_FROM_JDBC[lowered]] = value
        # other pgjdbc-only parameters (prepareThreshold, loggerLevel, ...) have no libpq meaning
    return params


def parse_libpq(dsn: str) -> dict[str, str]:
    """libpq keywords from a URL or key=value string, parsed by libpq itself (via psycopg2)."""
    import psycopg2
    from psycopg2.extensions import parse_dsn

    try:
        return dict(parse_dsn(dsn))
    except psycopg2.ProgrammingError:
        # libpq's message quotes fragments of the string, which may include the password: leave it out.
        raise PostgresConfigError(
            DSN_ENV, redact_dsn(dsn), f"not a valid connection string; {_HINT}"
        ) from None


def parse_dsn(dsn: str, environ: Mapping[str, str] | None = None) -> PostgresInfo:
    """A `PostgresInfo` for ``dsn``; missing parts default as libpq would (PGHOST, PGPORT, ...).

    The host defaults to ``localhost`` rather than libpq's Unix socket, because Spark's JDBC writer
    and dashboards need TCP.
    """
    env = os.environ if environ is None else environ
    text = dsn.strip()
    if not text:
        raise PostgresConfigError(DSN_ENV, "", f"empty; {_HINT}")
    params = parse_jdbc_url(text) if text.lower().startswith("jdbc:") else parse_libpq(text)
    shown = redact_dsn(text)
    host = params.pop("host", "") or env.get("PGHOST") or "localhost"
    if "," in host:
        raise PostgresConfigError(DSN_ENV, shown, "several hosts are not supported; name one host")
    port_text = params.pop("port", "") or env.get("PGPORT") or "5432"
    try:
        port = int(port_text)
    except ValueError:
        raise PostgresConfigError(DSN_ENV, shown, f"port {port_text!r} is not a number") from None
    user = params.pop("user", "") or env.get("PGUSER") or getpass.getuser()
    database = params.pop("dbname", "") or env.get("PGDATABASE") or user
    sslmode = params.pop("sslmode", "") or env.get("PGSSLMODE") or None
    dsn_password = params.pop("password", "") or None
    password = env.get(PASSWORD_ENV) or dsn_password or env.get(LIBPQ_PASSWORD_ENV) or None
    passfile = params.pop("passfile", "") or None
    return PostgresInfo(
        provider="env",
        host=host,
        port=port,
        database=database,
        user=user,
        sslmode=sslmode,
        password=password,
        passfile=passfile,
        options=tuple(sorted(params.items())),
    )


def info_from_environment(environ: Mapping[str, str] | None = None) -> PostgresInfo | None:
    """The server named by HARNESS_PG_DSN, or None when the variable is unset or empty."""
    env = os.environ if environ is None else environ
    dsn = env.get(DSN_ENV, "").strip()
    return parse_dsn(dsn, env) if dsn else None
