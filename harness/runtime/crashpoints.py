"""Named crash points for crash-recovery tests: ``HARNESS_TEST_KILL_AT=<point>[@<n>]``.

A test that must prove "a process killed right here loses and duplicates nothing" cannot rely on a
timer alone to land inside a short window (between a Delta commit and the streaming checkpoint's
commit, between the event-log journal and the event-log append). The harness calls `crash_point`
at those places; when the environment variable names the point, the process kills itself with
SIGKILL (no ``finally``, no ``atexit``, no flush: the same as the machine losing power). When the
process leads its own process group (a test starts ``harness run`` with ``start_new_session``), the
whole group is killed, so the Spark JVM dies at the same instant instead of finishing its shutdown
hooks. ``@n`` kills at the n-th time the point is reached (default 1).

Unset (always, outside tests), a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter

__all__ = ["KILL_ENV", "KILL_MARKER", "armed", "crash_point"]

KILL_ENV = "HARNESS_TEST_KILL_AT"
#: printed to stderr just before the kill, so a test can tell that its point was reached
KILL_MARKER = "HARNESS_TEST_KILL_AT reached:"

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if ``HARNESS_TEST_KILL_AT`` names ``name`` (see the module docstring)."""
    target = os.environ.get(KILL_ENV)
    if not target:
        return
    point, _, nth = target.partition("@")
    if point != name:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] < int(nth or 1):
            return
        print(f"{KILL_MARKER} {name}@{_hits[name]}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def armed(name: str) -> bool:
    """True when ``HARNESS_TEST_KILL_AT`` names ``name``: code that must watch for the moment to
    kill (a JVM-only write with no Python step between its commits) starts watching only then."""
    target = os.environ.get(KILL_ENV)
    return bool(target) and target.partition("@")[0] == name
