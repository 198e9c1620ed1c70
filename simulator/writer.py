"""Atomic file drops: write `.<name>.tmp` in the target folder, fsync, rename, fsync the folder.

Spark file sources ignore names starting with `.`, and a rename within one folder is atomic, so a
reader sees either nothing or the whole file. The sha256 and size are taken while writing.

A batch's files may be written by several threads at once (hashlib and file writes release the
GIL); the folder fsync that makes their renames durable can then be done once per folder for the
whole batch (`sync_dir=False`, then `sync_directories`), before the manifest is written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa


@dataclass(frozen=True)
class WrittenFile:
    """One file of a batch, as listed in the manifest."""

    folder: str
    name: str
    path: Path
    size_bytes: int
    lines: int
    sha256: str

    def manifest_entry(self) -> dict[str, object]:
        return {
            "folder": self.folder,
            "name": self.name,
            "size_bytes": self.size_bytes,
            "lines": self.lines,
            "sha256": self.sha256,
        }


class _HashingWriter:
    """File-like sink for polars: hashes and counts what it forwards."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def atomic_write(
    path: Path, fill: Callable[[_HashingWriter], None], *, fsync: bool = True, sync_dir: bool = True
) -> tuple[int, str]:
    """Write `path` through a dot-prefixed temporary in the same folder; return (size, sha256).

    With `fsync`, the data is on disk before the rename; `sync_dir=False` leaves the folder fsync
    (which makes the rename itself durable) to the caller's `sync_directories`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as handle:
            sink = _HashingWriter(handle)
            fill(sink)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if fsync and sync_dir:
        sync_directories([path.parent])
    return sink.size, sink.digest.hexdigest()


def sync_directories(folders: Iterable[Path]) -> None:
    """fsync each folder once, so the renames done in it are durable."""
    for folder in dict.fromkeys(folders):
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _runs(lines: pl.Series, overrides: dict[int, bytes]) -> Iterator[bytes | memoryview]:
    """The bytes of `lines`, in row order, as few zero-copy slices of polars' own string buffers.

    polars hands its string column to Arrow as a string-view array without copying: each row is a
    16-byte view (length, prefix, buffer index, offset; rows of <= 12 bytes are inline). Rows that
    sit back to back in the same buffer form one run and go out as one slice; a row in `overrides`
    is replaced by its bytes.
    """
    array = lines.to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    base = 0
    for chunk in chunks:
        if not pa.types.is_string_view(chunk.type):  # pragma: no cover - older layouts
            chunk = chunk.cast(pa.string_view())
        buffers = chunk.buffers()
        if buffers[0] is not None and chunk.null_count:  # pragma: no cover - rendered lines are never null
            raise ValueError("null line in an NDJSON column")
        raw_views = memoryview(buffers[1])[chunk.offset * 16 : (chunk.offset + len(chunk)) * 16]
        views = np.frombuffer(raw_views, dtype=np.int32).reshape(-1, 4)
        length = views[:, 0].astype(np.int64)
        buffer = np.where(length > 12, views[:, 2], -1 - np.arange(len(views)))  # inline rows: own run
        offset = views[:, 3].astype(np.int64)
        breaks = np.ones(len(views), dtype=bool)
        breaks[1:] = (buffer[1:] != buffer[:-1]) | (offset[1:] != offset[:-1] + length[:-1])
        replaced = [row - base for row in sorted(overrides) if base <= row < base + len(views)]
        for row in replaced:
            breaks[row] = True
            if row + 1 < len(views):
                breaks[row + 1] = True
        starts = np.flatnonzero(breaks)
        ends = np.append(starts[1:], len(views))
        replaced_set = set(replaced)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            if start in replaced_set:
                yield overrides[base + start]
            elif length[start] <= 12:
                yield raw_views[start * 16 + 4 : start * 16 + 4 + int(length[start])]
            else:
                data = memoryview(buffers[2 + int(buffer[start])])
                yield data[int(offset[start]) : int(offset[end - 1] + length[end - 1])]
        base += len(views)


def write_lines(
    sink: _HashingWriter,
    lines: pl.Series,
    overrides: dict[int, bytes],
    tail: bytes | None,
) -> None:
    """NDJSON from lines that already end in '\\n', written straight from polars' buffers (no copy),
    with `overrides` (row -> raw bytes incl. newline) in place of their rows. `tail` ends the file
    without a newline (the truncated last line)."""
    for piece in _runs(lines, overrides):
        sink.write(piece)
    if tail is not None:
        sink.write(tail)


def write_array(sink: _HashingWriter, lines: Sequence[bytes]) -> None:
    """json-array: one JSON array of all records on a single line."""
    sink.write(b"[" + b",".join(lines) + b"]\n")


def write_json(path: Path, document: bytes, *, fsync: bool = True) -> tuple[int, str]:
    return atomic_write(path, lambda sink: sink.write(document) and None, fsync=fsync)
