"""One update at a time per pipeline state, as on Databricks: an OS-released lock per pipeline.

`harness run`, `harness watch` and `harness dev` hold ``<state>/pipelines/<slug>/update.lock``
(``fcntl.flock``) while they update the pipeline. A second one on the same pipeline state is refused
with `PipelineBusyError`, naming the holder's update id, start time and PID, or waits with
``--wait``. The OS releases the lock when its holder exits or is killed, so a SIGKILLed run never
leaves it held; the holder's description (``update.lock.json``) is only read to write the message.
Readers (`harness sql`, notebooks, `LocalPipeline.table`) take no lock: Delta gives them a
consistent snapshot while an update writes.

The lock is re-entrant within a process: the CLI takes it before starting Spark (so a refused run
fails fast), and `LocalPipeline.run` takes it again around each update without blocking itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from harness.errors import PipelineBusyError
from harness.state import StateLayout

__all__ = ["PipelineLock", "holder_of", "pipeline_lock"]


@dataclass
class _Held:
    handle: IO[str]
    depth: int


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def _paths(layout: StateLayout, pipeline_name: str) -> tuple[Path, Path]:
    lock_file = layout.update_lock(pipeline_name)  # StateLayout owns the path
    return lock_file, lock_file.with_name(lock_file.name + ".json")


def holder_of(layout: StateLayout, pipeline_name: str) -> dict[str, str]:
    """What the current holder wrote about itself (empty when unknown)."""
    try:
        data = json.loads(_paths(layout, pipeline_name)[1].read_text(encoding="utf-8"))
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class PipelineLock:
    """The update lock of one pipeline state; use `pipeline_lock` for the context manager."""

    def __init__(self, layout: StateLayout, pipeline_name: str) -> None:
        self.layout = layout
        self.pipeline_name = pipeline_name
        self.lock_file, self.info_file = _paths(layout, pipeline_name)

    def acquire(self, *, wait: bool = False, command: str = "run") -> None:
        with _guard:
            held = _held.get(self.lock_file)
            if held is not None:
                held.depth += 1
                return
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_file, "a+")  # noqa: SIM115 (kept open while held)
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    holder = holder_of(self.layout, self.pipeline_name)
                    raise PipelineBusyError(
                        self.pipeline_name,
                        str(self.layout.root),
                        update_id=holder.get("update_id", "unknown"),
                        started_at=holder.get("started_at", "unknown"),
                        pid=holder.get("pid", "unknown"),
                        command=holder.get("command", "unknown"),
                    ) from None
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        with _guard:
            _held[self.lock_file] = _Held(handle, 1)
        self.describe(update_id="starting", command=command)

    def describe(self, *, update_id: str, command: str | None = None) -> None:
        """Record who holds the lock (read by the refused process for its message)."""
        previous = holder_of(self.layout, self.pipeline_name) if command is None else {}
        info = {
            "update_id": update_id,
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command or previous.get("command", "run"),
        }
        tmp = self.info_file.with_name(f".{self.info_file.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(info), encoding="utf-8")
            os.replace(tmp, self.info_file)
        except OSError:  # e.g. a full disk: the lock holds without it, only the message is poorer
            with contextlib.suppress(OSError):
                tmp.unlink()

    def release(self) -> None:
        with _guard:
            held = _held.get(self.lock_file)
            if held is None:
                return
            held.depth -= 1
            if held.depth > 0:
                return
            del _held[self.lock_file]
        with contextlib.suppress(OSError):
            self.info_file.unlink()
        held.handle.close()  # closing the file releases the flock


@contextlib.contextmanager
def pipeline_lock(
    layout: StateLayout, pipeline_name: str, *, wait: bool = False, command: str = "run"
) -> Iterator[PipelineLock]:
    """Hold the pipeline's update lock for the block (refused with `PipelineBusyError`, or waits)."""
    lock = PipelineLock(layout, pipeline_name)
    lock.acquire(wait=wait, command=command)
    try:
        yield lock
    finally:
        lock.release()
