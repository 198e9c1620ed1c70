"""Names from configuration that end up inside SQL text: plain identifiers only.

``export.schema``, ``export.staging_schema``, the Unity Catalog ``catalog`` / ``schema`` / ``volume``
cannot be bind parameters, so a configuration file is a way into the database. Every such name must
be a plain identifier (``[A-Za-z_][A-Za-z0-9_]*``, at most 63 bytes: PostgreSQL's limit). Anything
else (``metrics"; DROP SCHEMA x; --``) raises `ConfigError` naming the key and the value, before any
connection is made. Quoting lives with the SQL (`pipeline.metrics.identifiers`).
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.utils.errors import ConfigError

__all__ = ["IDENTIFIER", "MAX_LENGTH", "check_identifier", "check_qualified"]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_LENGTH = 63


def check_identifier(key: str, value: Any, **where: Any) -> str:
    """``value`` if it is a plain identifier, else `ConfigError` naming ``key`` and the value.

    ``where`` (``environment=``, ``source=``) is passed to the error when the caller knows it.
    """
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ConfigError(
            key,
            value,
            "must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*: letters, digits, underscores)",
            expected="a plain SQL identifier",
            **where,
        )
    if len(value) > MAX_LENGTH:
        raise ConfigError(
            key, value, f"must be at most {MAX_LENGTH} characters (PostgreSQL truncates)", **where
        )
    return value


def check_qualified(key: str, value: Any, parts: int = 2, **where: Any) -> str:
    """A dotted name of exactly ``parts`` plain identifiers (``catalog.schema``)."""
    if not isinstance(value, str) or value.count(".") != parts - 1:
        raise ConfigError(key, value, f"must be {parts} plain identifiers joined by dots", **where)
    for part in value.split("."):
        if not IDENTIFIER.fullmatch(part) or len(part) > MAX_LENGTH:
            raise ConfigError(
                key,
                value,
                f"must be {parts} plain SQL identifiers ([A-Za-z_][A-Za-z0-9_]*) joined by dots",
                **where,
            )
    return value
