"""`crash_point` really kills with SIGKILL, only at the named point and only at its n-th hit."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from harness.runtime.crashpoints import KILL_ENV, KILL_MARKER

pytestmark = pytest.mark.unit

SCRIPT = """
from harness.runtime.crashpoints import crash_point
for name in ("a", "b", "a", "b"):
    print("at", name, flush=True)
    crash_point(name)
print("end", flush=True)
"""


def _run(kill_at: str | None, new_session: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if kill_at is not None:
        env[KILL_ENV] = kill_at
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=new_session,
    )


def test_unset_never_kills() -> None:
    done = _run(None)
    assert done.returncode == 0
    assert done.stdout.split("\n")[-2] == "end"


def test_named_point_kills_with_sigkill_at_first_hit() -> None:
    done = _run("b")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["at", "a", "at", "b"]
    assert f"{KILL_MARKER} b@1" in done.stderr


def test_nth_hit_and_without_own_process_group() -> None:
    done = _run("a@2", new_session=False)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["at", "a", "at", "b", "at", "a"]
    assert f"{KILL_MARKER} a@2" in done.stderr


def test_other_point_names_do_not_kill() -> None:
    assert _run("c").returncode == 0
