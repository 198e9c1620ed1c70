"""NDJSON writing straight from polars' string buffers: same bytes as joining the lines in Python."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from simulator.writer import atomic_write, sync_directories, write_lines

pytestmark = pytest.mark.unit


def _expected(lines: list[str], overrides: dict[int, bytes], tail: bytes | None) -> bytes:
    parts = [overrides.get(i, line.encode()) for i, line in enumerate(lines)]
    return b"".join(parts) + (tail or b"")


@pytest.mark.parametrize("tail", [None, b'{"cut'])
def test_write_lines_matches_a_plain_join(tmp_path: Path, tail: bytes | None) -> None:
    # short rows (inline in the string view), long rows, non-ASCII, several chunks, a slice
    lines = [f'{{"n":{i},"pad":"{"x" * (i % 40)}","city":"Köln"}}\n' for i in range(3000)]
    lines[5] = "short\n"
    lines[6] = "{}\n"
    series = pl.concat([pl.Series(lines[:1000]), pl.Series(lines[1000:])], rechunk=False)
    assert series.n_chunks() == 2
    overrides = {0: b"broken\xff\n", 6: b"{\n", 999: b"x\n", 1000: b"y\n", 2999: b"last\n"}
    target = tmp_path / "orders_b00001_20260102T000000Z_p00.json"
    size, digest = atomic_write(target, lambda sink: write_lines(sink, series, overrides, tail), fsync=True)
    data = target.read_bytes()
    assert data == _expected(lines, overrides, tail)
    assert size == len(data) and digest == hashlib.sha256(data).hexdigest()
    window = series.slice(995, 10)
    sliced = tmp_path / "sliced.json"
    atomic_write(sliced, lambda sink: write_lines(sink, window, {2: b"z\n"}, None), fsync=False)
    assert sliced.read_bytes() == _expected(lines[995:1005], {2: b"z\n"}, None)


def test_batched_directory_sync_leaves_no_temporaries(tmp_path: Path) -> None:
    names = [tmp_path / "a" / "one.json", tmp_path / "b" / "two.json"]
    for path in names:
        atomic_write(path, lambda sink: sink.write(b"{}\n") and None, fsync=True, sync_dir=False)
    sync_directories([p.parent for p in names])
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["one.json", "two.json"]
