"""Versioned SQL migrations of the monitoring schema, applied idempotently and recorded.

Files ``migrations/NNNN_name.sql`` run in version order, each in its own transaction with
``search_path`` set to the target schema (the files use unqualified names, so any schema works).
``schema_migrations`` records version, name and the file's SHA-256; a recorded migration is skipped,
and one whose file changed since it was applied raises `MigrationError` (fix forward with a new
file instead). A transaction-scoped advisory lock serialises concurrent migrators.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.metrics.identifiers import quote_ident, sql_identifier
from pipeline.utils.errors import MigrationError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files in version order; a bad name or a repeated version raises `MigrationError`."""
    folder = directory or Path(str(resources.files("pipeline.metrics") / "migrations"))
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(0, path.stem, f"file name {path.name!r} is not NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(version, match.group(2), f"version also used by {found[version].name}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def apply_migrations(conn: Any, schema: str, migrations: list[Migration] | None = None) -> list[int]:
    """Bring ``schema`` up to date on an open psycopg2 connection; returns the versions applied now."""
    import psycopg2
    from psycopg2 import sql

    ident = sql_identifier(schema, "export.schema")
    todo = migrations if migrations is not None else load_migrations()
    applied_now: list[int] = []
    for migration in todo:
        with conn, conn.cursor() as cur:  # one transaction per migration
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"metrics-migrations:{schema}",))
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute(
                "SELECT name, checksum FROM schema_migrations WHERE version = %s", (migration.version,)
            )
            row = cur.fetchone()
            if row is not None:
                if row[1] != migration.checksum:
                    raise MigrationError(
                        migration.version,
                        migration.name,
                        f"the file changed after it was applied to schema {schema!r} (checksum "
                        f"{row[1][:12]} recorded, {migration.checksum[:12]} now); add a new migration instead",
                    )
                continue
            try:
                cur.execute(migration.sql)
            except (
                psycopg2.ProgrammingError,
                psycopg2.DataError,
                psycopg2.IntegrityError,
                psycopg2.NotSupportedError,
                psycopg2.InternalError,
            ) as exc:  # a broken migration; connection errors propagate as they are (retryable)
                raise MigrationError(migration.version, migration.name, f"failed: {exc}".strip()) from exc
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            applied_now.append(migration.version)
    return applied_now


def applied_versions(conn: Any, schema: str) -> dict[int, str]:
    """version -> checksum recorded in ``schema.schema_migrations`` (empty when never migrated)."""
    from psycopg2 import sql

    ident = sql_identifier(schema, "export.schema")
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{quote_ident(schema, 'export.schema')}.schema_migrations",))
        if cur.fetchone()[0] is None:
            return {}
        cur.execute(
            sql.SQL("SELECT version, checksum FROM {}.schema_migrations ORDER BY version").format(ident)
        )
        return dict(cur.fetchall())


def pending_migrations(conn: Any, schema: str, migrations: list[Migration] | None = None) -> list[Migration]:
    """The migrations not recorded yet, read with SELECT only (no DDL, no lock).

    The least-privilege exporter role (migration 0002) may not create anything, so the exporter asks
    this first and runs `apply_migrations` only when something is missing. A recorded migration
    whose file changed raises `MigrationError`, as in `apply_migrations`.
    """
    todo = migrations if migrations is not None else load_migrations()
    recorded = applied_versions(conn, schema)
    for migration in todo:
        checksum = recorded.get(migration.version)
        if checksum is not None and checksum != migration.checksum:
            raise MigrationError(
                migration.version,
                migration.name,
                f"the file changed after it was applied to schema {schema!r} (checksum {checksum[:12]} "
                f"recorded, {migration.checksum[:12]} now); add a new migration instead",
            )
    return [m for m in todo if m.version not in recorded]


__all__ = ["Migration", "applied_versions", "apply_migrations", "load_migrations", "pending_migrations"]
