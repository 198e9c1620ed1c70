"""Step bookkeeping of the e2e job: timed steps with visible progress, and a peak-memory sampler."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class StepRecord:
    name: str
    seconds: float = 0.0
    status: str = "RUNNING"  # OK | FAILED
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepLog:
    """Prints each step as it starts and ends; keeps the records for the report."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    records: list[StepRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[e2e {elapsed:6.1f}s] {text}", file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        record = StepRecord(name)
        self.records.append(record)
        self.say(f"{name} ...")
        began = time.monotonic()
        try:
            yield record
            record.status = "OK"
        except BaseException:
            record.status = "FAILED"
            raise
        finally:
            record.seconds = time.monotonic() - began
            self.say(f"{name}: {record.status} in {record.seconds:.1f}s")


def _proportional_size(process: Any) -> int:
    try:
        return int(process.memory_full_info().pss)
    except (AttributeError, OSError):  # no PSS on this platform or no access: resident size
        return int(process.memory_info().rss)


class PeakMemory:
    """Samples the memory of this process and its children (the JVM, Python workers) every 0.5 s.

    Proportional set size (PSS) where the kernel provides it: shared pages (PostgreSQL's shared
    buffers, mapped jars) count once across processes, where summing RSS would count them per process.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-memory", daemon=True)

    def _sample(self) -> int:
        import psutil

        me = psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                total += _proportional_size(process)
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())
