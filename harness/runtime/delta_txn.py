"""Did Delta commit this idempotent write, or skip it as a replay?

Streaming flows append each micro-batch with ``txnAppId`` / ``txnVersion``. After a crash between
the Delta commit and the stream's checkpoint commit, Structured Streaming replays the batch and
Delta skips the write without running the query. The expectation counts of a batch come from a
Spark `Observation` filled by that query, and `Observation.get` waits for a query that will now
never run: the update would hang. So the writer asks the Delta log whether its (app id, version)
was committed by this write: it reads the commit files added since the version it saw before
writing (a few small JSON files), never the whole log.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["committed_since", "latest_version", "local_table_path"]

_COMMIT = re.compile(r"^(\d{20})\.json$")


def local_table_path(location: str) -> Path:
    """A local path for a table location (``file:/x``, ``file:///x`` or a plain path)."""
    if location.startswith("file:"):
        return Path(unquote(urlparse(location).path))
    return Path(location)


def _commits(table: Path) -> list[tuple[int, Path]]:
    log = table / "_delta_log"
    if not log.is_dir():
        return []
    found = []
    for entry in log.iterdir():
        match = _COMMIT.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found)


def latest_version(table: str | Path) -> int:
    """The table's newest commit version, -1 when it has none yet."""
    commits = _commits(local_table_path(str(table)))
    return commits[-1][0] if commits else -1


def committed_since(table: str | Path, after: int, app_id: str, version: int) -> bool:
    """True when a commit newer than ``after`` carries the transaction ``(app_id, version)``."""
    for number, path in _commits(local_table_path(str(table))):
        if number <= after:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if '"txn"' not in line:
                continue
            txn = json.loads(line).get("txn") or {}
            if txn.get("appId") == app_id and int(txn.get("version", -1)) == version:
                return True
    return False
