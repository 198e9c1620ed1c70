"""A state directory that ran out of disk space: one clear error instead of a Java stack trace.

Spark reports a full disk as an `IOException: No space left on device` deep inside a task failure;
the update then fails (or, when even the event log cannot be written, the process stops). The data
is safe either way (Delta commits and checkpoints are atomic), and the next run after space is freed
recovers; this module only turns the symptom into a message that says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import StateDiskFullError

_SYMPTOMS = ("No space left on device", "ENOSPC", "Disk quota exceeded")


def is_disk_full(text: str | BaseException | None) -> bool:
    """True when ``text`` (an error message, or an exception and its causes) reports a full disk."""
    if isinstance(text, BaseException):
        seen: list[BaseException] = []
        exc: BaseException | None = text
        while exc is not None and exc not in seen and len(seen) < 10:
            seen.append(exc)
            if isinstance(exc, OSError) and exc.errno == 28:
                return True
            if is_disk_full(str(exc)):
                return True
            exc = exc.__cause__ or exc.__context__
        return False
    return bool(text) and any(symptom in text for symptom in _SYMPTOMS)


def free_bytes(path: Path) -> int:
    """Bytes free for unprivileged writers on the filesystem holding ``path`` (-1 if unknown)."""
    for candidate in (path, *path.parents):
        try:
            stat = os.statvfs(candidate)
        except OSError:
            continue
        return stat.f_bavail * stat.f_frsize
    return -1


def disk_full_error(state_root: Path, detail: str) -> StateDiskFullError:
    first_line = next((line.strip() for line in detail.splitlines() if "No space" in line), detail[:300])
    return StateDiskFullError(str(state_root), free_bytes(state_root), first_line)
