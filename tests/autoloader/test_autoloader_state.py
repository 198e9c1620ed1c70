"""Schema location files and the checkpoint's file log, read without Spark."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType

from harness.autoloader.files import find_rewrites, ingested_files, is_hidden, list_input_files
from harness.autoloader.store import SchemaStore, local_path
from harness.errors import SchemaLocationError

pytestmark = pytest.mark.unit

BASE = StructType([StructField("id", LongType(), True)])


def test_schema_versions_are_appended_and_read_back(tmp_path: Path) -> None:
    store = SchemaStore.at(str(tmp_path / "loc"))
    assert store.latest() is None
    store.append(BASE, "inferred")
    evolved = StructType([*BASE.fields, StructField("extra", StringType(), True)])
    second = store.append(evolved, "addNewColumns", ["extra"])
    assert second.version == 1
    history = store.history()
    assert [h.version for h in history] == [0, 1]
    assert history[1].schema == evolved
    assert history[1].info == {"reason": "addNewColumns", "added_columns": ["extra"]}
    text = (tmp_path / "loc" / "_schemas" / "1").read_text()
    assert text.startswith("v1\n") and "dataSchemaJson" in text


def test_a_taken_version_number_is_never_overwritten(tmp_path: Path) -> None:
    store = SchemaStore.at(f"file://{tmp_path}/loc")
    store.append(BASE, "inferred")
    # Another writer appended version 1 behind our back (we still think 0 is the latest).
    (tmp_path / "loc" / "_schemas" / "1").write_text((tmp_path / "loc" / "_schemas" / "0").read_text())
    assert store.append(BASE, "addNewColumns").version == 2


def test_unreadable_schema_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "_schemas").mkdir()
    (tmp_path / "_schemas" / "0").write_text("garbage")
    with pytest.raises(SchemaLocationError) as info:
        SchemaStore.at(str(tmp_path)).latest()
    assert info.value.path.endswith("_schemas/0")


def test_local_path_accepts_file_uris() -> None:
    assert local_path("file:///tmp/a%20b") == "/tmp/a b"
    assert local_path("file:/tmp/x") == "/tmp/x"


def test_listing_skips_hidden_and_temporary_files(tmp_path: Path) -> None:
    for name in [
        "a.json",
        ".a.json.tmp",
        "_SUCCESS",
        "b.json._COPYING_",
        "sub/c.json",
        "_x/d.json",
        "k=1/e.json",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    names = [os.path.relpath(f.path, tmp_path) for f in list_input_files(str(tmp_path), recursive=True)]
    assert names == ["a.json", "k=1/e.json", "sub/c.json"]
    names = [os.path.relpath(f.path, tmp_path) for f in list_input_files(str(tmp_path), recursive=False)]
    assert names == ["a.json", "k=1/e.json"]
    assert is_hidden("_tmp") and not is_hidden("k=_v")


def _write_log(directory: Path, name: str, entries: list[tuple[str, int, int]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["v1"] + [
        json.dumps({"path": f"file://{p}", "timestamp": ts, "batchId": b}) for p, ts, b in entries
    ]
    (directory / name).write_text("\n".join(lines))


def test_ingested_files_reads_compacted_logs_and_skips_uncommitted(tmp_path: Path) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for i in range(4):
        (data / f"f{i}.json").write_text("{}\n")
        os.utime(data / f"f{i}.json", ns=(0, (1000 + i) * 1_000_000))
    log = tmp_path / "ck" / "sources" / "0"
    # Batches 0-1 compacted into 1.compact (a stale 0 file is still around), batch 2 after it, 3 uncommitted.
    _write_log(log, "0", [(f"{data}/f0.json", 1000, 0)])
    _write_log(log, "1.compact", [(f"{data}/f0.json", 1000, 0), (f"{data}/f1.json", 1001, 1)])
    _write_log(log, "2", [(f"{data}/f2.json", 1002, 2)])
    _write_log(log, "3", [(f"{data}/f3.json", 1003, 3)])
    (tmp_path / "ck" / "commits").mkdir()
    for b in range(3):
        (tmp_path / "ck" / "commits" / str(b)).write_text("v1\n{}")
    files = ingested_files(str(tmp_path / "ck"))
    assert [(Path(f.path).name, f.batch_id, f.size) for f in files] == [
        ("f0.json", 0, 3),
        ("f1.json", 1, 3),
        ("f2.json", 2, 3),
    ]
    assert files[0].modification_time.timestamp() == 1.0
    assert len(ingested_files(str(tmp_path / "ck"), include_uncommitted=True)) == 4
    # A rewritten file: the size is unknown (the log has none) and it is reported as a rewrite.
    os.utime(data / "f1.json", ns=(0, 5_000 * 1_000_000))
    assert ingested_files(str(tmp_path / "ck"), source_index=0)[1].size is None
    rewrites = find_rewrites(list_input_files(str(data), True), files, str(data))
    assert [(r.relative_path, r.ingested_mtime_ms, r.file.mtime_ms) for r in rewrites] == [
        ("f1.json", 1001, 5000)
    ]
