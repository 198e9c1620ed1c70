"""How Unity Catalog names map onto the local Spark catalog, and identifier hygiene.

Local Spark has one catalog (`spark_catalog`) with two-level names, Unity Catalog has three. A
pipeline publishing to ``<catalog>.<schema>`` gets the local database ``<catalog>__<schema>`` (two
underscores; a legacy ``target`` schema without catalog maps to itself). Identifiers taken from
configuration are validated before they are quoted into SQL: injection through a schema or table
name is rejected with `IdentifierError`.
"""

from __future__ import annotations

import re

from harness.errors import IdentifierError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


def validate_identifier(value: str, kind: str = "identifier") -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise IdentifierError(kind, str(value))
    return value


def quote_identifier(value: str, kind: str = "identifier") -> str:
    """Backtick-quote a validated identifier for Spark SQL."""
    return f"`{validate_identifier(value, kind)}`"


def local_database(catalog: str | None, schema: str) -> str:
    """The local database for a UC catalog + schema (or a legacy target schema)."""
    validate_identifier(schema, "schema")
    if catalog:
        validate_identifier(catalog, "catalog")
        return f"{catalog}__{schema}".lower()
    return schema.lower()


def split_name(name: str) -> list[str]:
    """'a.b.`c`' -> ['a', 'b', 'c'] (backticks stripped)."""
    parts: list[str] = []
    current, quoted = "", False
    for char in name.strip():
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts]
