"""The files the local provider keeps in ``<state>/postgres`` and the lock that guards them.

Several processes share one state directory (the e2e job, a dashboard, a test run, `harness
postgres start`), so every decision to start, reuse or stop the server is taken under an
exclusive `flock` on ``.lock``, and who uses the server is written down in ``holders.json``:
the last holder to leave stops an ephemeral server, a persistent one stays until `harness postgres
stop`.

Layout (the server's account owns only ``data/``; everything else is ours, mode 0600):
``data/`` PGDATA · ``server.json`` pid, start time, port, mode of the running server ·
``port`` last port used (reused when free, so clients keep their settings) · ``password`` and
``pgpass`` (libpq password file) · ``server.log`` · ``holders.json`` · ``.lock``.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

LOCAL_USER = "harness"
LOCAL_DATABASE = "harness"


@dataclass(frozen=True)
class LocalPaths:
    """Paths of the local server under ``<state>/postgres``."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def record(self) -> Path:
        return self.root / "server.json"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def passfile(self) -> Path:
        return self.root / "pgpass"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def holders(self) -> Path:
        return self.root / "holders.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"


@dataclass(frozen=True)
class ServerRecord:
    """What ``server.json`` says about the running server."""

    pid: int
    create_time: float
    port: int
    persistent: bool
    version: str
    bin_dir: str
    account: str


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only (passwords, records)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def read_record(paths: LocalPaths) -> ServerRecord | None:
    try:
        return ServerRecord(**json.loads(paths.record.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(paths: LocalPaths, record: ServerRecord) -> None:
    write_private(paths.record, json.dumps(asdict(record), indent=2) + "\n")
    write_private(paths.port_file, f"{record.port}\n")


def last_port(paths: LocalPaths) -> int | None:
    try:
        return int(paths.port_file.read_text().strip())
    except (OSError, ValueError):
        return None


def clear_record(paths: LocalPaths) -> None:
    paths.record.unlink(missing_ok=True)
    paths.holders.unlink(missing_ok=True)


# --- holders ---------------------------------------------------------------------------------------


def _alive(pid: int, create_time: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - create_time) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def live_holders(paths: LocalPaths) -> list[tuple[int, float]]:
    """Processes that use the server now (dead ones, e.g. killed with SIGKILL, are dropped)."""
    try:
        entries = [(int(pid), float(ctime)) for pid, ctime in json.loads(paths.holders.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    return [entry for entry in entries if _alive(*entry)]


def add_holder(paths: LocalPaths) -> None:
    me = (os.getpid(), psutil.Process().create_time())
    write_private(paths.holders, json.dumps([*live_holders(paths), me]))


def remove_holder(paths: LocalPaths) -> list[tuple[int, float]]:
    """Drop one entry of this process; returns the holders that remain."""
    holders = live_holders(paths)
    mine = [entry for entry in holders if entry[0] == os.getpid()]
    if mine:
        holders.remove(mine[0])
    write_private(paths.holders, json.dumps(holders))
    return holders


# --- lock ----------------------------------------------------------------------------------------

_held: dict[Path, int] = {}
_held_guard = threading.RLock()


@contextmanager
def state_lock(paths: LocalPaths) -> Iterator[None]:
    """Exclusive across processes; re-entrant within this one (a SIGTERM handler may need it while
    the interrupted code holds it, and a second flock from the same process would deadlock)."""
    with _held_guard:
        key = paths.lock
        if key in _held:
            _held[key] += 1
            try:
                yield
            finally:
                _held[key] -= 1
            return
        paths.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _held[key] = 1
            try:
                yield
            finally:
                del _held[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
