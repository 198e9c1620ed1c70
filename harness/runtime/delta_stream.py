"""A streaming flow written by Delta's own streaming sink: no Python callback per micro-batch.

Why not ``foreachBatch``: every classic query with a Python ``foreachBatch`` leaves one py4j
callback thread and socket behind for the life of the process (shared/reference/engine-notes.md),
so a long-lived session grows by one of each per streaming flow per update. Delta's sink runs in
the JVM and is exactly-once on its own: it records ``(query id, batch id)`` as a Delta
transaction and skips a batch replayed after a crash without running its plan. Expectations ride
in the same plan: a named ``observe()`` (counts reported in the query's progress) followed by the
fail check and the drop filter (harness/runtime/expectations.py).

Crash tests name the point ``after_append:<table>`` (Delta committed, the stream's checkpoint not
yet). With no Python step between the two commits, the point is watched from outside: when (and
only when) a test arms it, a thread polls the table's Delta log and kills the process as soon as a
commit of this stream appears. The checkpoint commit may land before the kill; either way the next
update must neither lose nor duplicate a row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.runtime.crashpoints import armed, crash_point
from harness.runtime.delta_txn import latest_version

__all__ = ["DeltaStreamTarget", "run_delta_stream"]

#: progress reports a query keeps (Spark's default is 100): the counts of every micro-batch of an
#: update come from them, so an update with more micro-batches than that must not lose any
MIN_RECENT_PROGRESS = 10_000
_PROGRESS_CONF = "spark.sql.streaming.numRecentProgressUpdates"


@dataclass(frozen=True)
class DeltaStreamTarget:
    """Where a stream goes: a Delta path, or a table name (a Delta sink's ``tableName``)."""

    key: str  # names the crash points (the dataset key)
    path: str | None = None
    table_name: str | None = None


def keep_all_progress(spark: Any) -> None:
    """Make queries keep enough progress reports for an update's every micro-batch (idempotent)."""
    try:
        current = int(spark.conf.get(_PROGRESS_CONF, "100"))
    except (TypeError, ValueError):
        current = 100
    if current < MIN_RECENT_PROGRESS:
        spark.conf.set(_PROGRESS_CONF, str(MIN_RECENT_PROGRESS))


def run_delta_stream(df: Any, target: DeltaStreamTarget, checkpoint: Path, output_mode: str) -> list[Any]:
    """Run ``df`` into Delta with ``availableNow`` to the end of the input; return its progress reports."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    keep_all_progress(df.sparkSession)
    writer = (
        df.writeStream.format("delta")
        .outputMode(output_mode)
        .option("checkpointLocation", str(checkpoint))
        .option("mergeSchema", "true")
        .trigger(availableNow=True)
    )
    crash_point(f"before_append:{target.key}")
    watcher = _CommitWatcher(target) if armed(f"after_append:{target.key}") and target.path else None
    query = writer.toTable(target.table_name) if target.table_name else writer.start(target.path)
    try:
        query.awaitTermination()
    finally:
        progresses = list(query.recentProgress)
        if query.isActive:
            query.stop()
        if watcher is not None:
            watcher.stop()
    return progresses


class _CommitWatcher:
    """Kills the process at ``after_append:<key>`` once the table has a new Delta commit (tests only)."""

    def __init__(self, target: DeltaStreamTarget) -> None:
        assert target.path is not None
        self._path = target.path
        self._name = f"after_append:{target.key}"
        self._start = latest_version(self._path)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="crash-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.005):
            if latest_version(self._path) > self._start:
                crash_point(self._name)
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
