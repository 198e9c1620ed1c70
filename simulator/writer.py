"""Atomic file drops: write `.<name>.tmp` in the target folder, fsync, rename, fsync the folder.

Spark file sources ignore names starting with `.`, and a rename within one folder is atomic, so a
reader sees either nothing or the whole file. The sha256 and size are taken while writing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
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
    path: Path, fill: Callable[[_HashingWriter], None], *, fsync: bool = True
) -> tuple[int, str]:
    """Write `path` through a dot-prefixed temporary in the same folder; return (size, sha256)."""
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
    if fsync:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return sink.size, sink.digest.hexdigest()


def write_lines(
    sink: _HashingWriter,
    lines: pl.Series,
    overrides: dict[int, bytes],
    tail: bytes | None,
) -> None:
    """NDJSON from lines that already end in '\\n': the Arrow data buffer of the column is the file
    content, written in zero-copy slices around `overrides` (row -> raw bytes incl. newline).
    `tail` ends the file without a newline (the truncated last line)."""
    array = lines.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    _validity, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    start = 0
    for row in sorted(overrides):
        if row > start:
            sink.write(data[offsets[start] : offsets[row]])
        sink.write(overrides[row])
        start = row + 1
    if start < len(array):
        sink.write(data[offsets[start] : offsets[len(array)]])
    if tail is not None:
        sink.write(tail)


def write_array(sink: _HashingWriter, lines: Sequence[bytes]) -> None:
    """json-array: one JSON array of all records on a single line."""
    sink.write(b"[" + b",".join(lines) + b"]\n")


def write_json(path: Path, document: bytes, *, fsync: bool = True) -> tuple[int, str]:
    return atomic_write(path, lambda sink: sink.write(document) and None, fsync=fsync)
