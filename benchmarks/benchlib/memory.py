"""Process-tree resources: peak RSS (driver Python + JVM + Python workers), open fds, threads.

pyspark starts the JVM as a child of this process and the JVM starts the Python workers, so the
recursive children of this process are everything a local pipeline run uses.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any


def tree_rss_bytes() -> int:
    """RSS of this process and all its descendants right now."""
    import psutil

    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def tree_cpu_seconds() -> float:
    """User + system CPU seconds used so far by this process and its living descendants.

    On a shared machine wall-clock time stretches with other people's load while CPU seconds mostly
    do not, so both are recorded. (Python workers are long-lived pyspark daemons, so little CPU is
    lost with exited children.)
    """
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


def jvm_process() -> Any:
    """The Spark driver JVM (the java child of this process), or None."""
    import psutil

    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.name() == "java":
                return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


@dataclass(frozen=True)
class ResourceSnapshot:
    """Leak indicators at one moment (the soak benchmark takes one per batch)."""

    tree_rss_mb: float
    python_rss_mb: float
    jvm_rss_mb: float
    python_fds: int
    python_threads: int
    jvm_fds: int
    jvm_threads: int


def snapshot() -> ResourceSnapshot:
    import psutil

    me = psutil.Process()
    jvm = jvm_process()
    return ResourceSnapshot(
        tree_rss_mb=tree_rss_bytes() / 2**20,
        python_rss_mb=me.memory_info().rss / 2**20,
        jvm_rss_mb=jvm.memory_info().rss / 2**20 if jvm else 0.0,
        python_fds=len(os.listdir("/proc/self/fd")),
        python_threads=threading.active_count(),
        jvm_fds=jvm.num_fds() if jvm else 0,
        jvm_threads=jvm.num_threads() if jvm else 0,
    )


class PeakMemory:
    """Samples the process tree's RSS in a background thread; ``peak_mb`` is the high-water mark.

    Used as a context manager around the measured work. ru_maxrss would miss the JVM (a child that
    is still running) and would carry the peak of earlier benchmarks in the same process.
    """

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-peak-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.peak_bytes = tree_rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20
