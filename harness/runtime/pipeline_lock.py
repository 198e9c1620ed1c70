"""One update of a pipeline at a time, across processes: an exclusive `flock` on a file in its state.

`harness run`, `harness watch`, `harness dev` and a warm engine all take it around each update, so
two commands pointed at the same state directory never write the same tables, checkpoints or event
log at once; the second waits (and says so) until the first update ends. The lock is released by
the kernel if the process dies, so a killed update never leaves it held.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def update_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another update of this pipeline is running (%s); waiting for it to finish", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


__all__ = ["update_lock"]
