"""The harness's catalog: Spark's in-memory catalog, kept across processes in one JSON file.

Why not Hive's Derby metastore: a kill while Derby created its database left a half-made
``metastore_db`` that no later start could open (issue 16), and an embedded Derby admits one JVM at
a time, so `harness sql` could not read a pipeline while it updated. The tables live at known
Delta paths under the state directory anyway, so the catalog only has to remember names:

- ``<state>/spark/catalog.json`` lists the databases (name -> location) and the tables and views
  (``db.name`` -> location, or view text). It is replaced atomically (write aside, fsync, rename),
  so a kill leaves the old or the new file, never a broken one.
- `restore` registers those entries in a new session (``CREATE TABLE ... USING delta LOCATION``).
- `save` writes the session's changes back: what it created, re-pointed or dropped since it
  restored. The merge runs under a file lock, so two processes on one state (an update and a
  `harness sql`, two pipelines) keep each other's entries.
- Without a readable file (a state from before this catalog, or a file edited by hand), the catalog
  is rebuilt from the Delta tables on disk: every ``pipelines/*/tables/<db>/<table>`` and every
  managed table in the warehouse. A rebuild of an unreadable file is reported once as a warning.

Differences from a Hive metastore, written down in docs/state-layout.md: a managed table comes back
registered at its warehouse location as an external table, and an entry made in a process that
was killed before it saved is lost (the pipeline's own tables are registered again by its next
update).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from harness.state import StateLayout

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class CatalogEntries:
    """Databases (name -> location URI or "") and objects (``db.name`` -> entry mapping)."""

    databases: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"version": FORMAT_VERSION, "databases": self.databases, "tables": self.tables},
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> CatalogEntries:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"unknown catalog format {data.get('version') if isinstance(data, dict) else data!r}"
            )
        databases = data.get("databases") or {}
        tables = data.get("tables") or {}
        if not isinstance(databases, dict) or not isinstance(tables, dict):
            raise ValueError("databases and tables must be objects")
        return cls(dict(databases), {k: dict(v) for k, v in tables.items()})


def merge(on_disk: CatalogEntries, baseline: CatalogEntries, current: CatalogEntries) -> CatalogEntries:
    """``on_disk`` with this session's changes applied: entries added or changed since ``baseline``
    are written, entries that disappeared since ``baseline`` are removed, anything else is kept
    (another process may have added it meanwhile). Pure: unit-tested without Spark."""
    result = CatalogEntries(dict(on_disk.databases), dict(on_disk.tables))
    for mine, base, theirs in (
        (current.databases, baseline.databases, result.databases),
        (current.tables, baseline.tables, result.tables),
    ):
        for key, value in mine.items():
            if base.get(key) != value:
                theirs[key] = value
        for key in base.keys() - mine.keys():
            theirs.pop(key, None)
    return result


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a kill at any instant leaves the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield  # released by the OS when the file is closed or the process dies


def _is_delta(path: Path) -> bool:
    log_dir = path / "_delta_log"
    return log_dir.is_dir() and any(p.suffix == ".json" for p in log_dir.iterdir())


def entries_on_disk(layout: StateLayout) -> CatalogEntries:
    """The catalog implied by the Delta tables under the state directory (the rebuild's source)."""
    entries = CatalogEntries()
    for tables_root in sorted(layout.root.glob("pipelines/*/tables")):
        for database in sorted(p for p in tables_root.iterdir() if p.is_dir()):
            for table in sorted(p for p in database.iterdir() if p.is_dir() and _is_delta(p)):
                entries.databases.setdefault(database.name.lower(), "")
                key = f"{database.name.lower()}.{table.name.lower()}"
                entries.tables.setdefault(key, {"location": str(table), "provider": "delta"})
    warehouse = layout.warehouse_dir
    for database in sorted(warehouse.glob("*.db")) if warehouse.is_dir() else []:
        name = database.name[: -len(".db")].lower()
        entries.databases.setdefault(name, str(database))
        for table in sorted(p for p in database.iterdir() if p.is_dir() and _is_delta(p)):
            entries.tables.setdefault(
                f"{name}.{table.name.lower()}", {"location": str(table), "provider": "delta", "managed": True}
            )
    return entries


def _local(uri: str) -> str:
    """A catalog location as a plain path when it is a local file URI (``file:/a%20b`` -> ``/a b``)."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _seq(scala_seq: Any) -> list[Any]:
    return [scala_seq.apply(i) for i in range(scala_seq.length())]


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class CatalogStore:
    """Restores a session's catalog from ``catalog.json`` and saves its changes back (see module doc)."""

    def __init__(self, layout: StateLayout) -> None:
        self.layout = layout
        self.file = layout.spark_dir / "catalog.json"
        self.lock_file = layout.spark_dir / "catalog.lock"
        self._baseline = CatalogEntries()

    # --- reading ------------------------------------------------------------------------------
    def load(self) -> CatalogEntries | None:
        """The entries on disk; None when there is no file yet. An unreadable file is set aside,
        reported once as a warning, and rebuilt from the tables on disk."""
        try:
            return CatalogEntries.from_json(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, AttributeError) as exc:
            aside = self.file.with_name(f"catalog.json.unreadable-{int(time.time())}")
            with contextlib.suppress(OSError):
                os.replace(self.file, aside)
            log.warning(
                "the catalog file %s could not be read (%s); it was moved to %s and the catalog is "
                "rebuilt from the Delta tables under %s",
                self.file,
                exc,
                aside.name,
                self.layout.root,
            )
            return None

    def snapshot(self, spark: Any) -> CatalogEntries:
        """What the session's catalog holds now (in-memory JVM calls: no Delta log is read)."""
        external = spark._jsparkSession.sharedState().externalCatalog()
        entries = CatalogEntries()
        for database in _seq(external.listDatabases()):
            if database == "default":
                continue
            entries.databases[database] = _local(str(external.getDatabase(database).locationUri().toString()))
        for database in ["default", *entries.databases]:
            for name in _seq(external.listTables(database)):
                table = external.getTable(database, name)
                kind = table.tableType().name()
                if kind == "VIEW":
                    text = table.viewText()
                    if text.isDefined():
                        entries.tables[f"{database}.{name}"] = {"view": str(text.get())}
                    continue
                provider = table.provider()
                entry: dict[str, Any] = {
                    "location": _local(str(table.location().toString())),
                    "provider": str(provider.get()) if provider.isDefined() else "delta",
                }
                if kind == "MANAGED":
                    entry["managed"] = True
                entries.tables[f"{database}.{name}"] = entry
        return entries

    # --- restore / save -----------------------------------------------------------------------
    def restore(self, spark: Any) -> int:
        """Register the saved (or rebuilt) entries in ``spark``'s catalog; returns how many tables."""
        entries = self.load()
        rebuilt = entries is None
        if entries is None:
            entries = entries_on_disk(self.layout)
            if entries.tables:
                log.info(
                    "catalog rebuilt from %d Delta table(s) under %s", len(entries.tables), self.layout.root
                )
        self._baseline = entries
        for database, location in sorted(entries.databases.items()):
            clause = f" LOCATION {_sql_string(_local(location))}" if location else ""
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {_quote(database)}{clause}")
        registered = 0
        gone: list[str] = []
        views = []
        for key, entry in sorted(entries.tables.items()):
            database, _, name = key.partition(".")
            ref = f"{_quote(database)}.{_quote(name)}"
            if "view" in entry:
                views.append((ref, entry["view"]))
                continue
            location = str(entry.get("location", ""))
            if entry.get("provider", "delta") == "delta" and not _is_delta(
                Path(location.removeprefix("file:"))
            ):
                gone.append(key)  # its files are gone: the next save drops the entry
                continue
            try:
                spark.sql(
                    f"CREATE TABLE IF NOT EXISTS {ref} USING {entry.get('provider', 'delta')} "
                    f"LOCATION {_sql_string(location)}"
                )
                registered += 1
            except Exception as exc:  # one broken table must not stop the session
                log.warning("could not register %s at %s: %s", key, location, str(exc).splitlines()[0])
        for ref, text in views:
            try:
                spark.sql(f"CREATE VIEW IF NOT EXISTS {ref} AS {text}")
            except Exception as exc:
                log.warning("could not restore the view %s: %s", ref, str(exc).splitlines()[0])
        # after a rebuild, everything registered is new to the file: the next save writes it all
        restored = entries.tables or entries.databases
        self._baseline = self.snapshot(spark) if restored and not rebuilt else CatalogEntries()
        for key in gone:
            self._baseline.tables[key] = entries.tables[key]
        return registered

    def save(self, spark: Any) -> None:
        """Write this session's catalog changes into the file (merged under the file lock)."""
        current = self.snapshot(spark)
        with _locked(self.lock_file):
            on_disk = self.load() or CatalogEntries()
            merged = merge(on_disk, self._baseline, current)
            if merged != on_disk or not self.file.exists():
                write_atomically(self.file, merged.to_json())
        self._baseline = current


_STORES: dict[Path, CatalogStore] = {}


def store_for(layout: StateLayout) -> CatalogStore:
    """The one `CatalogStore` of a state directory in this process (it keeps the session's baseline)."""
    return _STORES.setdefault(layout.root, CatalogStore(layout))


def save_catalog(spark: Any) -> None:
    """Save the catalog of every state this process restored one for (no-op for other sessions)."""
    for store in list(_STORES.values()):
        try:
            store.save(spark)
        except Exception as exc:  # saving the catalog must never fail an update or a query
            log.warning("could not save the catalog %s: %s", store.file, str(exc).splitlines()[0])
