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

from harness.errors import PostgresConfigError
from harness.postgres.info import REDACTED, PostgresInfo
from pipeline.config.jdbc import parse_jdbc_url as parse_pipeline_jdbc_url
from pipeline.utils.errors import ConfigError

DSN_ENV = "HARNESS_PG_DSN"
PASSWORD_ENV = "HARNESS_PG_PASSWORD"
LIBPQ_PASSWORD_ENV = "PGPASSWORD"

_HINT = (
    "use a libpq URL (postgresql://user@host:5432/db?sslmode=require), a key=value string "
    "('host=... port=5432 dbname=... user=...') or a JDBC URL (jdbc:postgresql://host:5432/db?user=...)"
)

_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redact_dsn(text: str) -> str:
    """The DSN with any password (key=value, URL userinfo or query parameter) replaced by ***."""
    text = _KV_PASSWORD.sub(rf"\g<1>{REDACTED}", text)
    text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
    return _QUERY_PASSWORD.sub(rf"\g<1>{REDACTED}", text)


def parse_jdbc_url(url: str) -> dict[str, str]:
    """libpq keywords from ``jdbc:postgresql://host[:port]/db?user=...``.

    The grammar is `pipeline.config.jdbc`'s (the one JDBC URL parser; docs/postgres.md): one host,
    the user as ``?user=``, never a password.
    """
    try:
        return parse_pipeline_jdbc_url(url, DSN_ENV).libpq()
    except ConfigError as exc:
        raise PostgresConfigError(
            DSN_ENV,
            redact_dsn(url),
            f"the JDBC URL {exc.reason}; {_HINT}. The password goes in {PASSWORD_ENV} (or {LIBPQ_PASSWORD_ENV})",
        ) from None


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
