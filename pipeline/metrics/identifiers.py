"""SQL identifiers taken from configuration (schemas, catalogs): validated once, then quoted.

Names such as ``export.schema`` end up inside SQL text (a schema cannot be a bind parameter), so a
configuration file is a way into the database. Every such name must be a plain identifier
(`pipeline.config.identifiers`, which owns the check and raises `ConfigError` naming the key) and
is quoted as well.

`quote_ident` renders exactly what ``psycopg2.sql.Identifier(name).as_string(conn)`` renders for a
valid name (tests/metrics check it against a real server); it exists because the upsert statements
are built and unit-tested as plain strings without a connection. Code holding a connection uses
`sql_identifier` (a real ``psycopg2.sql.Identifier``).
"""

from __future__ import annotations

from typing import Any

from pipeline.config.identifiers import IDENTIFIER, check_identifier, check_qualified


def quote_ident(name: str, key: str = "identifier") -> str:
    """``"name"`` after `check_identifier` (the quoting of ``psycopg2.sql.Identifier``)."""
    check_identifier(key, name)
    return '"' + name.replace('"', '""') + '"'


def sql_identifier(name: str, key: str = "identifier") -> Any:
    """A ``psycopg2.sql.Identifier`` for a validated name (for statements composed on a connection)."""
    from psycopg2 import sql

    return sql.Identifier(check_identifier(key, name))


__all__ = ["IDENTIFIER", "check_identifier", "check_qualified", "quote_ident", "sql_identifier"]
