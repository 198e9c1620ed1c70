"""The schema location: Auto Loader's schema history plus the emulation's own small state files.

Layout under ``cloudFiles.schemaLocation`` (Databricks' ``_schemas`` directory, same numbering):

- ``_schemas/0, 1, ...`` – one file per schema version, never rewritten: ``v1`` then one JSON line
  with ``dataSchemaJson`` / ``partitionSchemaJson`` (Databricks' field names) and a ``harness``
  object saying why the version exists (``inferred`` or ``addNewColumns``) and which columns it added.
- ``_harness/source.json`` – what `translate_stream_failure` needs to evolve the schema after the
  stream failed (path, format, options), rewritten at every stream start.
- ``_harness/existing_files.json`` – the files present at the first start, for
  ``includeExistingFiles=false``.
- ``_harness/overwrites/<mtime-ms>/<relative path>`` – copies of rewritten files re-admitted with
  ``allowOverwrites=true``; ``_harness/overwrites.json`` – rewrites already reported.

Writes are atomic (temporary dot-file + rename) so a crash never leaves half a schema behind, and a
schema version is created exclusively so two writers cannot both claim version N.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql.types import StructType

from harness.errors import SchemaLocationError

_EMPTY_STRUCT = '{"type":"struct","fields":[]}'


def local_path(path: str) -> str:
    """A local filesystem path for a path or ``file:`` URI (``file:/x``, ``file:///x``, ``file://localhost/x``)."""
    from urllib.parse import unquote, urlparse

    if path.startswith("file:"):
        parsed = urlparse(path)
        if parsed.netloc not in ("", "localhost"):
            raise SchemaLocationError(path, "only local file: URIs are supported")
        return os.path.abspath(unquote(parsed.path))
    return os.path.abspath(os.path.expanduser(path))


@dataclass(frozen=True)
class StoredSchema:
    """One version of the schema history."""

    version: int
    schema: StructType
    info: dict[str, Any] = field(default_factory=dict)


def _atomic_write(path: Path, text: str, exclusive: bool = False) -> bool:
    """Write via a dot-temp file and rename; with `exclusive`, return False if `path` already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    try:
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        os.replace(tmp, path)
        return True
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass(frozen=True)
class SchemaStore:
    """Reads and writes one source's schema location."""

    root: Path

    @classmethod
    def at(cls, location: str) -> SchemaStore:
        return cls(Path(local_path(location)))

    @property
    def schemas_dir(self) -> Path:
        return self.root / "_schemas"

    @property
    def state_dir(self) -> Path:
        return self.root / "_harness"

    @property
    def overwrites_dir(self) -> Path:
        return self.state_dir / "overwrites"

    # --- schema history ------------------------------------------------------------------------
    def history(self) -> list[StoredSchema]:
        """All versions, oldest first."""
        if not self.schemas_dir.is_dir():
            return []
        versions = sorted(int(p.name) for p in self.schemas_dir.iterdir() if p.name.isdigit())
        return [self._read(v) for v in versions]

    def latest(self) -> StoredSchema | None:
        history = self.history()
        return history[-1] if history else None

    def _read(self, version: int) -> StoredSchema:
        path = self.schemas_dir / str(version)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            if not lines or lines[0].strip() != "v1" or len(lines) < 2:
                raise ValueError("expected 'v1' and one JSON line")
            record = json.loads(lines[1])
            schema = StructType.fromJson(json.loads(record["dataSchemaJson"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SchemaLocationError(str(path), str(exc)) from exc
        return StoredSchema(version, schema, dict(record.get("harness", {})))

    def append(self, schema: StructType, reason: str, added: list[str] | None = None) -> StoredSchema:
        """Store `schema` as the next version (exclusively: a concurrent writer makes us take N+1)."""
        info = {"reason": reason, "added_columns": list(added or [])}
        record = {"dataSchemaJson": schema.json(), "partitionSchemaJson": _EMPTY_STRUCT, "harness": info}
        text = "v1\n" + json.dumps(record, sort_keys=True) + "\n"
        latest = self.latest()
        version = 0 if latest is None else latest.version + 1
        while not _atomic_write(self.schemas_dir / str(version), text, exclusive=True):
            version += 1
        return StoredSchema(version, schema, info)

    # --- emulation state -----------------------------------------------------------------------
    def read_state(self, name: str) -> Any:
        path = self.state_dir / name
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SchemaLocationError(str(path), str(exc)) from exc

    def write_state(self, name: str, value: Any) -> None:
        _atomic_write(self.state_dir / name, json.dumps(value, indent=1, sort_keys=True) + "\n")
