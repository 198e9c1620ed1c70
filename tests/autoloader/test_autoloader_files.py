"""File state across updates: exactly once, late arrivals, existing files, overwrites, rate limits, the log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from autoloader_helpers import Rig, rescued
from pyspark.sql import functions as F

from harness.autoloader import ingested_files
from harness.errors import UnsupportedOptionError

pytestmark = pytest.mark.spark

HINTS = {"cloudFiles.schemaHints": "id INT"}


def ids(rig: Rig) -> list[int]:
    return [r["id"] for r in rig.rows()]


def names(files: list) -> list[str]:
    return sorted(Path(f.path).name for f in files)


def test_each_file_is_processed_exactly_once_across_updates(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1}, {"id": 2}])
    rig.write("b.json", [{"id": 3}])
    first = rig.update(HINTS)
    assert ids(rig) == [1, 2, 3] and first.records == 3
    after_first = ingested_files(str(rig.checkpoint))
    assert names(after_first) == ["a.json", "b.json"]
    assert (
        sum(f.size or 0 for f in after_first)
        == (rig.input / "a.json").stat().st_size + (rig.input / "b.json").stat().st_size
    )

    rig.write("c.json", [{"id": 4}])
    second = rig.update(HINTS)
    assert ids(rig) == [1, 2, 3, 4] and second.records == 1
    new = [f for f in ingested_files(str(rig.checkpoint)) if f not in after_first]
    assert names(new) == ["c.json"] and new[0].batch_id == 1

    third = rig.update(HINTS)  # nothing new: nothing read
    assert ids(rig) == [1, 2, 3, 4] and third.records == 0
    rig.write("d.json", [{"id": 5}])
    rig.update(HINTS)
    assert ids(rig) == [1, 2, 3, 4, 5]


def test_a_file_arriving_during_an_update_is_read_by_the_next_one(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1}])
    rig.write("b.json", [{"id": 2}])
    target = str(rig.target)

    def write_batch(batch_df, batch_id: int) -> None:
        batch_df.write.format("delta").mode("append").option("mergeSchema", "true").save(target)
        if not (rig.input / "late.json").exists():
            rig.write("late.json", [{"id": 3}])  # lands after AvailableNow fixed the file list

    options = {**HINTS, "cloudFiles.maxFilesPerTrigger": "1"}
    first = rig.update(options, sink=write_batch)
    assert first.error is None and ids(rig) == [1, 2]
    assert names(ingested_files(str(rig.checkpoint))) == ["a.json", "b.json"]
    rig.update(options, sink=write_batch)
    assert ids(rig) == [1, 2, 3]


def test_include_existing_files_false_skips_what_was_there_at_first_start(rig: Rig) -> None:
    rig.write("old.json", [{"id": 1}])
    options = {**HINTS, "cloudFiles.includeExistingFiles": "false"}
    first = rig.update(options)
    assert first.error is None and ids(rig) == [] and first.records == 0
    rig.write("new.json", [{"id": 2}])
    rig.update(options)
    assert ids(rig) == [2]
    rig.write("newer.json", [{"id": 3}])
    rig.update(options)
    assert ids(rig) == [2, 3]


def rewrite(rig: Rig, name: str, rows: list[dict]) -> Path:
    path = rig.write(name, rows)
    assert os.stat(path).st_mtime_ns // 1_000_000 == rig.clock
    return path


def test_allow_overwrites_false_ignores_a_rewritten_file_and_warns_once(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1}])
    rig.update(HINTS)
    rewrite(rig, "a.json", [{"id": 1}, {"id": 10}])
    second = rig.update(HINTS)
    assert ids(rig) == [1] and second.records == 0
    assert (
        len(second.warnings) == 1
        and "a.json" in second.warnings[0]
        and "allowOverwrites" in second.warnings[0]
    )
    assert rig.update(HINTS).warnings == []  # reported once per rewrite


def test_allow_overwrites_true_reads_a_rewritten_file_again(rig: Rig) -> None:
    options = {**HINTS, "cloudFiles.allowOverwrites": "true", "cloudFiles.schemaEvolutionMode": "rescue"}

    def with_file(df):
        return df.withColumn("file_name", F.col("_metadata.file_name")).withColumn(
            "file_path", F.col("_metadata.file_path")
        )

    rig.write("a.json", [{"id": 1}])
    rig.update(options, transform=with_file)
    rewrite(rig, "a.json", [{"id": 10, "note": "v2"}])
    second = rig.update(options, transform=with_file)
    assert second.error is None and ids(rig) == [1, 10]
    assert any("re-admits" in w for w in second.warnings)
    row = {r["id"]: r for r in rig.rows()}[10]
    assert row["file_name"] == "a.json"
    assert rescued(row) == {"note": "v2", "_file_path": f"file:{rig.input}/a.json"}
    assert row["file_path"] != f"file:{rig.input}/a.json"  # documented: _metadata points at the copy
    rig.update(options, transform=with_file)
    assert ids(rig) == [1, 10]  # the re-admitted version is not read twice


def test_allow_overwrites_needs_a_plain_directory(rig: Rig) -> None:
    rig.write("k=1/a.json", [{"id": 1}])
    with pytest.raises(UnsupportedOptionError) as info:
        rig.stream({**HINTS, "cloudFiles.allowOverwrites": "true"})
    assert info.value.option == "cloudFiles.allowOverwrites"


def test_max_files_and_max_bytes_per_trigger_split_micro_batches(rig: Rig) -> None:
    for i in range(4):
        rig.write(f"f{i}.json", [{"id": i, "pad": "x" * 40}])
    result = rig.update({**HINTS, "cloudFiles.maxFilesPerTrigger": "3"})
    assert [b["numInputRows"] for b in result.batches] == [3, 1]

    other = Rig(rig.spark, rig.root / "bytes")
    for i in range(4):
        other.write(f"f{i}.json", [{"id": i, "pad": "x" * 40}])
    size = (other.input / "f0.json").stat().st_size
    result = other.update({**HINTS, "cloudFiles.maxBytesPerTrigger": str(2 * size)})
    assert [b["numInputRows"] for b in result.batches] == [2, 2]
    assert [m["num_records"] for m in result.metrics] == [2, 2]


def test_ingested_files_reads_the_compacted_log(rig: Rig) -> None:
    for i in range(12):
        rig.write(f"f{i:02d}.json", [{"id": i}])
    result = rig.update({**HINTS, "cloudFiles.maxFilesPerTrigger": "1"})
    assert len(result.batches) == 12
    assert (rig.checkpoint / "sources" / "0" / "9.compact").exists()
    files = ingested_files(str(rig.checkpoint))
    assert [f.batch_id for f in files] == list(range(12))
    assert names(files) == [f"f{i:02d}.json" for i in range(12)]
    assert all(f.size == (rig.input / Path(f.path).name).stat().st_size for f in files)


def test_ignored_options_reach_the_warning_callback(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1}])
    result = rig.update({**HINTS, "cloudFiles.useNotifications": "true"})
    assert result.error is None and any("cloudFiles.useNotifications" in w for w in result.warnings)
    with pytest.raises(UnsupportedOptionError):
        rig.stream({**HINTS, "cloudFiles.notAnOption": "1"})


def test_turning_allow_overwrites_on_later_keeps_the_checkpoint_usable(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1}])
    rig.update(HINTS)
    rewrite(rig, "a.json", [{"id": 2}])
    rig.write("b.json", [{"id": 3}])
    result = rig.update({**HINTS, "cloudFiles.allowOverwrites": "true"})  # load path becomes a glob now
    assert result.error is None and ids(rig) == [1, 2, 3]
    rig.update(HINTS)  # and back to the plain path: nothing is read twice
    assert ids(rig) == [1, 2, 3]
