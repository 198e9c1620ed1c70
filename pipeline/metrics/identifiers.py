"""SQL identifiers taken from configuration (schemas, catalogs): validated once, then quoted.

Names such as ``export.schema`` end up inside SQL text (a schema cannot be a bind parameter), so a
configuration file is a way into the database. Every such name must be a plain identifier
(``[A-Za-z_][A-Za-z0-9_]*``, at most 63 bytes: PostgreSQL's limit) and is quoted as well. Anything
else (``metrics"; DROP SCHEMA x; --``) raises `MetricsConfigError` naming the key and the value,
before any connection is made.

`quote_ident` renders exactly what ``psycopg2.sql.Identifier(name).as_string(conn)`` renders for a
valid name (tests/metrics check it against a real server); it exists because the upsert statements
are built and unit-tested as plain strings without a connection. Code holding a connection uses
`sql_identifier` (a real ``psycopg2.sql.Identifier``).
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.metrics.errors import MetricsConfigError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_LENGTH = 63


def check_identifier(key: str, value: Any) -> str:
    """``value`` if it is a plain identifier, else `MetricsConfigError` naming ``key`` and the value."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise MetricsConfigError(
            key,
            value,
            "must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*: letters, digits, underscores)",
        )
    if len(value) > MAX_LENGTH:
        raise MetricsConfigError(
            key, value, f"must be at most {MAX_LENGTH} characters (PostgreSQL truncates)"
        )
    return value


def check_qualified(key: str, value: Any, parts: int = 2) -> str:
    """A dotted name of exactly ``parts`` plain identifiers (``catalog.schema``)."""
    if not isinstance(value, str) or value.count(".") != parts - 1:
        raise MetricsConfigError(key, value, f"must be {parts} plain identifiers joined by dots")
    for part in value.split("."):
        if not IDENTIFIER.fullmatch(part) or len(part) > MAX_LENGTH:
            raise MetricsConfigError(
                key, value, f"must be {parts} plain SQL identifiers ([A-Za-z_][A-Za-z0-9_]*) joined by dots"
            )
    return value


def quote_ident(name: str, key: str = "identifier") -> str:
    """``"name"`` after `check_identifier` (the quoting of ``psycopg2.sql.Identifier``)."""
    check_identifier(key, name)
    return '"' + name.replace('"', '""') + '"'


def sql_identifier(name: str, key: str = "identifier") -> Any:
    """A ``psycopg2.sql.Identifier`` for a validated name (for statements composed on a connection)."""
    from psycopg2 import sql

    return sql.Identifier(check_identifier(key, name))


__all__ = ["IDENTIFIER", "check_identifier", "check_qualified", "quote_ident", "sql_identifier"]
