"""Read a Delta table's current rows with pyarrow alone: no JVM, no Spark session, no pipeline lock.

The pipeline page polls the event log every second or two while an update runs. Going through
Spark would need a session (seconds to start, a JVM per page) and would compete with the update
for the machine; reading the Delta log directly is what any Delta reader does:

1. list ``_delta_log/``; the newest complete checkpoint (classic single- or multi-part parquet)
   gives the live ``add`` actions up to its version;
2. every JSON commit after it, in version order, adds files (``add``) and takes them away
   (``remove``: compaction, OPTIMIZE, a truncate). What survives is the table's file set;
3. each live parquet file is read once and cached by path (Delta data files are immutable).

The event log is an append-only table without deletion vectors, column mapping or v2
checkpoints; a table using a reader feature this module does not implement is refused with
`UnsupportedDeltaTableError` naming the feature, rather than read wrongly.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from harness.errors import UnsupportedDeltaTableError

_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")
_V2_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(?:json|parquet)$")

#: Reader features whose absence of support cannot change what the event log's rows are.
_HARMLESS_READER_FEATURES = frozenset({"timestampNtz", "vacuumProtocolCheck", "typeWidening"})


@dataclass(frozen=True)
class Snapshot:
    """The live data files of one table version (paths absolute)."""

    version: int
    files: tuple[Path, ...]


def _data_path(table: Path, raw: str) -> Path:
    """A data file's path from an ``add``/``remove`` action (relative and URL-encoded, or a URI)."""
    parsed = urlparse(raw)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme:
        raise UnsupportedDeltaTableError(str(table), f"data file on a non-local file system: {raw}")
    return table / unquote(raw)


class DeltaTableReader:
    """Replays one table's Delta log; `rows()` returns its current rows as Python dicts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.log_dir = self.path / "_delta_log"
        self._lock = threading.Lock()
        self._file_rows: dict[Path, list[dict[str, Any]]] = {}
        self._snapshot: Snapshot | None = None
        self._live: dict[str, Path] = {}

    def exists(self) -> bool:
        return self.log_dir.is_dir() and any(_COMMIT.match(p.name) for p in self.log_dir.iterdir())

    # --- log replay -----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot | None:
        """The newest version's live files, replaying only the commits since the last call."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> Snapshot | None:
        if not self.log_dir.is_dir():
            return None
        names = [p.name for p in self.log_dir.iterdir()]
        commits = sorted(int(m.group(1)) for n in names if (m := _COMMIT.match(n)))
        if not commits:
            return None
        latest = commits[-1]
        if self._snapshot is not None and self._snapshot.version == latest:
            return self._snapshot
        if self._snapshot is not None and all(
            v in commits for v in range(self._snapshot.version + 1, latest + 1)
        ):
            start = self._snapshot.version + 1
        else:  # first read, or the log was cleaned up under us: start from a checkpoint
            self._live = {}
            start = self._load_checkpoint(names, latest)
        for version in range(start, latest + 1):
            self._apply_commit(version)
        self._snapshot = Snapshot(latest, tuple(sorted(self._live.values())))
        for cached in set(self._file_rows) - set(self._snapshot.files):
            del self._file_rows[cached]
        return self._snapshot

    def _load_checkpoint(self, names: list[str], latest: int) -> int:
        """Load the newest complete classic checkpoint <= latest; returns the first commit to replay."""
        parts: dict[int, dict[int, str]] = {}
        totals: dict[int, int] = {}
        for name in names:
            if _V2_CHECKPOINT.match(name):
                raise UnsupportedDeltaTableError(str(self.path), f"v2 checkpoint {name}")
            match = _CHECKPOINT.match(name)
            if match:
                version = int(match.group(1))
                part, total = int(match.group(2) or 1), int(match.group(3) or 1)
                parts.setdefault(version, {})[part] = name
                totals[version] = total
        complete = sorted((v for v in parts if v <= latest and len(parts[v]) == totals[v]), reverse=True)
        for version in complete:  # a checkpoint still being written is unreadable: take an older one
            try:
                self._live = self._checkpoint_files([self.log_dir / n for n in parts[version].values()])
            except (OSError, ValueError):
                continue
            return version + 1
        self._live = {}
        return 0

    def _checkpoint_files(self, files: list[Path]) -> dict[str, Path]:
        import pyarrow.parquet as pq

        self._live = {}
        for file in files:
            table = pq.read_table(file, columns=["add", "protocol"])
            for protocol in table.column("protocol").to_pylist():
                if protocol:
                    self._check_protocol(protocol)
            for add in table.column("add").to_pylist():
                if add:
                    self._add(add)
        return self._live

    def _apply_commit(self, version: int) -> None:
        text = (self.log_dir / f"{version:020d}.json").read_text(encoding="utf-8")
        for line in text.splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            if "protocol" in action:
                self._check_protocol(action["protocol"])
            elif "add" in action:
                self._add(action["add"])
            elif "remove" in action:
                self._live.pop(action["remove"]["path"], None)

    def _add(self, add: dict[str, Any]) -> None:
        if add.get("deletionVector"):
            raise UnsupportedDeltaTableError(str(self.path), f"deletion vector on {add['path']}")
        self._live[add["path"]] = _data_path(self.path, add["path"])

    def _check_protocol(self, protocol: dict[str, Any]) -> None:
        features = set(protocol.get("readerFeatures") or ()) - _HARMLESS_READER_FEATURES
        if features:
            raise UnsupportedDeltaTableError(str(self.path), f"reader features {sorted(features)}")
        if (protocol.get("minReaderVersion") or 1) == 2:  # reader version 2 means column mapping
            raise UnsupportedDeltaTableError(str(self.path), "column mapping (minReaderVersion 2)")

    # --- data -----------------------------------------------------------------------------------
    def rows(self) -> tuple[int, list[dict[str, Any]]]:
        """(version, rows) of the newest version; an absent table is (-1, [])."""
        import pyarrow.parquet as pq

        with self._lock:
            snapshot = self._refresh()
            if snapshot is None:
                return -1, []
            out: list[dict[str, Any]] = []
            for file in snapshot.files:
                cached = self._file_rows.get(file)
                if cached is None:
                    cached = pq.read_table(file).to_pylist()
                    self._file_rows[file] = cached
                out.extend(cached)
            return snapshot.version, out
