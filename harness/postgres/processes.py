"""The postmaster as a process: identify it, stop it in order, leave neither it nor its children.

A pid alone is not trusted (pids are recycled): a process counts as our server only if its
command line names our data directory and, when known, its start time matches the record.
Servers this process started are `subprocess.Popen` children and are waited on when they stop,
so none lingers as a zombie.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess

import psutil

from harness.postgres.local_files import LocalPaths

log = logging.getLogger(__name__)

STOP_TIMEOUT = 30.0

#: Server processes this process started, by pid.
started: dict[int, subprocess.Popen[bytes]] = {}


def postmaster(paths: LocalPaths, pid: int, create_time: float | None = None) -> psutil.Process | None:
    """The process ``pid`` if it is a postmaster on our data directory (not a recycled pid)."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 0.01:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            reap(proc, 0)
            return None
        return proc if str(paths.data) in proc.cmdline() else None
    except psutil.Error:
        return None


def reap(proc: psutil.Process, timeout: float) -> bool:
    """Wait until ``proc`` has exited (and reap it if it is our child); True if it is gone."""
    popen = started.get(proc.pid)
    try:
        if popen is not None:
            popen.wait(timeout)
            started.pop(proc.pid, None)
        else:
            proc.wait(timeout)
        return True
    except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
        return False
    except psutil.Error:
        return True


def terminate(proc: psutil.Process, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a postmaster: fast shutdown, then immediate shutdown, then SIGKILL; children included."""
    try:
        descendants = proc.children(recursive=True)
    except psutil.Error:
        descendants = []
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
        if reap(proc, wait):
            break
        log.warning("PostgreSQL (pid %d) did not stop within %.0fs of %s", proc.pid, wait, sig.name)
    _, alive = psutil.wait_procs(descendants, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=5)


def clear_orphan(paths: LocalPaths) -> None:
    """Deal with a postmaster.pid we have no record of: stop its server, or drop it if stale."""
    pidfile = paths.data / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    proc = postmaster(paths, pid)
    if proc is not None:
        log.warning("Stopping an orphaned PostgreSQL (pid %d) on %s", pid, paths.data)
        terminate(proc)
    pidfile.unlink(missing_ok=True)
