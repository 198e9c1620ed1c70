"""File state: what is in the input directory and what the stream's checkpoint says it ingested.

The native file stream source records every file it admits in the query checkpoint
(``sources/<n>/<batchId>``, compacted every 10 batches into ``<batchId>.compact``; Spark's
FileStreamSourceLog). That log *is* Auto Loader's exactly-once file state here, so we read it
instead of keeping a second copy: `ingested_files` serves metrics (files and bytes per update),
``cloud_files_state`` and the overwrite detection of ``cloudFiles.allowOverwrites``.
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.autoloader.store import local_path

_GLOB_CHARS = re.compile(r"[*?\[{]")


@dataclass(frozen=True)
class LocalFile:
    """A file in the input directory as the file source would see it."""

    path: str
    size: int
    mtime_ms: int


@dataclass(frozen=True)
class IngestedFile:
    """A file the stream admitted, from the checkpoint's source log.

    `size` is read from disk and is None when the file has gone or changed since it was ingested
    (Spark's log keeps the path and modification time only).
    """

    path: str
    size: int | None
    modification_time: datetime
    batch_id: int


def is_hidden(name: str) -> bool:
    """Spark's rule for names the file sources skip (``_x`` unless it is ``k=v``, ``.x``, ``x._COPYING_``)."""
    return (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    out: list[str] = []
    for option in match.group(1).split(","):
        out.extend(_expand_braces(pattern[: match.start()] + option + pattern[match.end() :]))
    return out


def static_prefix(path: str) -> str:
    """The directory part of a (possibly globbed) load path before its first glob character."""
    match = _GLOB_CHARS.search(path)
    if not match:
        return path.rstrip("/") or "/"
    return os.path.dirname(path[: match.start()]) or "/"


def has_glob(path: str) -> bool:
    return _GLOB_CHARS.search(path) is not None


def list_input_files(path: str, recursive: bool, name_glob: str | None = None) -> list[LocalFile]:
    """The files a file stream on `path` can admit, sorted by path.

    `recursive` follows every subdirectory (recursiveFileLookup); otherwise only ``key=value``
    partition directories are followed, as Spark's partition discovery does.
    """
    roots = (
        [p for pattern in _expand_braces(path) for p in sorted(globlib.glob(pattern))]
        if has_glob(path)
        else [path]
    )
    found: dict[str, LocalFile] = {}
    for root in roots:
        if os.path.isfile(root):
            candidates: Iterable[str] = [root]
        elif os.path.isdir(root):
            candidates = _walk(root, recursive)
        else:
            continue
        for file in candidates:
            if name_glob and not fnmatch.fnmatchcase(os.path.basename(file), name_glob):
                continue
            try:
                stat = os.stat(file)
            except FileNotFoundError:
                continue
            found[file] = LocalFile(file, stat.st_size, stat.st_mtime_ns // 1_000_000)
    return [found[k] for k in sorted(found)]


def _walk(root: str, recursive: bool) -> Iterable[str]:
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d) and (recursive or "=" in d))
        for name in sorted(files):
            if not is_hidden(name):
                yield os.path.join(current, name)


def has_partition_dirs(path: str) -> bool:
    """True when the directory holds ``key=value`` subdirectories (Hive-style partitions)."""
    root = static_prefix(path)
    return os.path.isdir(root) and any("=" in d and not d.startswith((".", "_")) for d in os.listdir(root))


# --- the checkpoint's source log -------------------------------------------------------------------


def _log_entries(directory: Path) -> list[dict[str, object]]:
    """Entries of one FileStreamSourceLog directory, honouring ``.compact`` files."""
    batch_files: dict[int, Path] = {}
    compacts: dict[int, Path] = {}
    for p in directory.iterdir():
        if p.name.isdigit():
            batch_files[int(p.name)] = p
        elif p.name.endswith(".compact") and p.name[: -len(".compact")].isdigit():
            compacts[int(p.name[: -len(".compact")])] = p
    start = -1
    files: list[Path] = []
    if compacts:
        start = max(compacts)
        files.append(compacts[start])
    files.extend(batch_files[b] for b in sorted(batch_files) if b > start)
    entries = []
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines()[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "path" in record and "batchId" in record:
                entries.append(record)
    return entries


def last_committed_batch(checkpoint_dir: str) -> int:
    """The highest committed micro-batch id of a query checkpoint (-1 if none)."""
    commits = Path(local_path(checkpoint_dir)) / "commits"
    if not commits.is_dir():
        return -1
    ids = [int(p.name) for p in commits.iterdir() if p.name.isdigit()]
    return max(ids, default=-1)


def has_started(checkpoint_dir: str) -> bool:
    """True once the query has planned a batch (Databricks evaluates includeExistingFiles before that)."""
    offsets = Path(local_path(checkpoint_dir)) / "offsets"
    return offsets.is_dir() and any(p.name.isdigit() for p in offsets.iterdir())


def ingested_files(
    checkpoint_dir: str, source_index: int | None = None, include_uncommitted: bool = False
) -> list[IngestedFile]:
    """Files admitted by the file sources of a query checkpoint, in (batch, path) order.

    `source_index` selects ``sources/<n>``; None reads every file source of the query. Batches
    planned but not committed (a failed micro-batch is planned again on restart) are left out
    unless `include_uncommitted`.
    """
    sources = Path(local_path(checkpoint_dir)) / "sources"
    if not sources.is_dir():
        return []
    dirs = (
        [sources / str(source_index)]
        if source_index is not None
        else sorted((p for p in sources.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    )
    committed = last_committed_batch(checkpoint_dir)
    result: dict[tuple[str, int], IngestedFile] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        for entry in _log_entries(directory):
            batch = int(entry["batchId"])  # type: ignore[call-overload]
            if batch > committed and not include_uncommitted:
                continue
            path = local_path(str(entry["path"]))
            mtime_ms = int(entry.get("timestamp", 0))  # type: ignore[call-overload]
            size = None
            try:
                stat = os.stat(path)
                if stat.st_mtime_ns // 1_000_000 == mtime_ms:
                    size = stat.st_size
            except OSError:
                pass
            modified = datetime.fromtimestamp(mtime_ms / 1000, tz=UTC)
            result[(path, batch)] = IngestedFile(path, size, modified, batch)
    return sorted(result.values(), key=lambda f: (f.batch_id, f.path))


# --- allowOverwrites -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rewrite:
    """An ingested file whose modification time changed after it was ingested."""

    file: LocalFile
    relative_path: str
    ingested_mtime_ms: int


def find_rewrites(current: list[LocalFile], ingested: list[IngestedFile], root: str) -> list[Rewrite]:
    """Files under `root` that the checkpoint ingested with a different modification time."""
    last_seen: dict[str, int] = {}
    for f in ingested:
        last_seen[f.path] = int(f.modification_time.timestamp() * 1000 + 0.5)
    rewrites = []
    for file in current:
        seen = last_seen.get(file.path)
        if seen is not None and seen != file.mtime_ms:
            rewrites.append(Rewrite(file, os.path.relpath(file.path, root), seen))
    return rewrites
