"""Issue 16, JVM-free: the catalog file's merge and atomic writes, the per-pipeline update lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.errors import PipelineBusyError
from harness.runtime.pipeline_lock import pipeline_lock
from harness.spark.catalog_store import CatalogEntries, CatalogStore, entries_on_disk, merge
from harness.state import StateLayout

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def _delta_table(path: Path) -> Path:
    (path / "_delta_log").mkdir(parents=True)
    (path / "_delta_log" / "00000000000000000000.json").write_text("{}")
    return path


def test_merge_keeps_other_processes_entries_and_applies_own_changes() -> None:
    baseline = CatalogEntries({"a": ""}, {"a.kept": {"location": "/k"}, "a.dropped": {"location": "/d"}})
    current = CatalogEntries(
        {"a": "", "b": "file:/b"}, {"a.kept": {"location": "/k2"}, "b.new": {"location": "/n"}}
    )
    # meanwhile another process added a.theirs
    on_disk = CatalogEntries({"a": ""}, {**baseline.tables, "a.theirs": {"location": "/t"}})

    merged = merge(on_disk, baseline, current)

    assert merged.databases == {"a": "", "b": "file:/b"}
    assert merged.tables == {
        "a.kept": {"location": "/k2"},
        "b.new": {"location": "/n"},
        "a.theirs": {"location": "/t"},
    }


def test_unreadable_catalog_file_is_set_aside_and_rebuilt_from_the_tables_on_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layout = StateLayout.at(tmp_path)
    _delta_table(layout.tables_dir("p") / "main__s" / "orders")
    _delta_table(layout.warehouse_dir / "scratch.db" / "t")
    (layout.tables_dir("p") / "main__s" / "not_delta").mkdir()
    store = CatalogStore(layout)
    store.file.parent.mkdir(parents=True, exist_ok=True)
    store.file.write_text('{"version": 1, "tables": {"x')  # a torn write from an old version

    assert store.load() is None
    assert "could not be read" in caplog.text
    assert not store.file.exists() and list(layout.spark_dir.glob("catalog.json.unreadable-*"))
    rebuilt = entries_on_disk(layout)
    assert set(rebuilt.tables) == {"main__s.orders", "scratch.t"}
    assert rebuilt.tables["scratch.t"]["managed"] is True
    assert rebuilt.tables["main__s.orders"]["location"] == str(layout.tables_dir("p") / "main__s" / "orders")


def test_catalog_file_round_trip(tmp_path: Path) -> None:
    entries = CatalogEntries({"d": "file:/x"}, {"d.t": {"location": "/x/t", "provider": "delta"}})
    assert CatalogEntries.from_json(entries.to_json()) == entries
    with pytest.raises(ValueError):
        CatalogEntries.from_json(json.dumps({"version": 99}))


_HOLD = textwrap.dedent(
    """
    import sys, time
    from harness.runtime.pipeline_lock import pipeline_lock
    from harness.state import StateLayout
    with pipeline_lock(StateLayout.at(sys.argv[1]), "My Pipeline") as lock:
        lock.describe(update_id="upd-123")
        print("held", flush=True)
        time.sleep(600)
    """
)


def _holder(state: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_update_is_refused_naming_the_holder_and_the_lock_dies_with_it(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path)
    holder = _holder(tmp_path)
    try:
        with pytest.raises(PipelineBusyError) as refused, pipeline_lock(layout, "my pipeline"):
            pass
        assert refused.value.update_id == "upd-123"
        assert refused.value.pid == str(holder.pid)
        assert refused.value.started_at.startswith("20")
        assert refused.value.pipeline == "my pipeline"
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder
        holder.wait()
    with pipeline_lock(layout, "my pipeline") as lock:  # the OS released it
        lock.describe(update_id="mine")
        with pipeline_lock(layout, "my pipeline"):  # re-entrant within one process
            pass


def test_wait_queues_behind_the_holder(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    import threading

    threading.Timer(0.5, holder.kill).start()
    with pipeline_lock(StateLayout.at(tmp_path), "my pipeline", wait=True):
        assert holder.wait() == -9


def test_catalog_locations_are_kept_as_plain_local_paths() -> None:
    from harness.spark.catalog_store import _local

    assert _local("file:/tmp/with%20space/t") == "/tmp/with space/t"
    assert _local("/already/a/path") == "/already/a/path"
    assert _local("s3a://bucket/t") == "s3a://bucket/t"
