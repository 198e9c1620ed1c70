"""A warm engine for the development loop: one Spark session kept alive by `harness dev`.

`harness dev ROOT --settings S` starts Spark once, runs an update whenever a pipeline source file is
saved or a new input file lands under a watched folder, and prints the per-flow results. While it
runs it listens on a local unix socket (`StateLayout.engine_socket`): `harness run` and
`harness sql` with the same state directory send their command line there and print what the warm
engine answers, instead of starting a JVM of their own (12-17 s). Commands and file-triggered updates
are executed one at a time on the engine's main thread, so they never interleave; across processes
the per-pipeline update lock (`harness.runtime.pipeline_lock`) serialises updates.

Why a harness-owned daemon and not Spark Connect: see docs/performance.md (foreachBatch over Connect
costs 1.0-1.4 s more per query, leaks a thread per query in the server, has no `sparkContext`, and
the DeltaTable API needs a plugin this machine cannot fetch).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the commands a running engine serves for other processes
SERVED_COMMANDS = ("run", "sql")
ENGINE_ENV = "HARNESS_ENGINE"  # "off": never use a running engine


# --- what changed -------------------------------------------------------------------------------
@dataclass
class ChangeWatcher:
    """Notices saved source files and new or changed input files by polling (mtime and size)."""

    sources: Callable[[], Iterable[Path]]
    inputs: Sequence[Path] = ()
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def snapshot(self) -> dict[Path, tuple[int, int]]:
        files: set[Path] = set(self.sources())
        for folder in self.inputs:
            if folder.is_dir():
                files.update(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        state: dict[Path, tuple[int, int]] = {}
        for path in files:
            with contextlib.suppress(OSError):
                stat = path.stat()
                state[path] = (stat.st_mtime_ns, stat.st_size)
        return state

    def prime(self) -> None:
        self._seen = self.snapshot()

    def changed(self) -> list[Path]:
        """Files added, changed or removed since the last call (or `prime`), sorted."""
        now = self.snapshot()
        changed = {p for p in now.keys() | self._seen.keys() if now.get(p) != self._seen.get(p)}
        self._seen = now
        return sorted(changed)


# --- the socket protocol: one JSON request line, one JSON answer line ------------------------------
def _send(conn: socket.socket, payload: dict[str, Any]) -> None:
    conn.sendall(json.dumps(payload).encode() + b"\n")


def _receive(conn: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data.decode() or "{}")


def call_engine(sock_path: Path, argv: Sequence[str], timeout: float | None = None) -> dict[str, Any] | None:
    """Run ``argv`` on the engine listening at ``sock_path``; None when no engine answers there."""
    if os.environ.get(ENGINE_ENV, "").lower() == "off" or not sock_path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(2.0)
        conn.connect(str(sock_path))
    except OSError:
        conn.close()
        return None  # a stale socket file: the engine is gone
    with conn:
        conn.settimeout(timeout)
        _send(conn, {"argv": list(argv), "cwd": os.getcwd()})
        return _receive(conn)


@dataclass
class Request:
    argv: list[str]
    cwd: str
    conn: socket.socket


class EngineServer:
    """Accepts requests on a unix socket (background thread) and queues them for the main thread."""

    def __init__(self, sock_path: Path) -> None:
        self.sock_path = sock_path
        self.requests: queue.Queue[Request] = queue.Queue()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.sock_path.parent.mkdir(parents=True, exist_ok=True)
        if call_engine_alive(self.sock_path):
            from harness.errors import EngineRunningError

            raise EngineRunningError(str(self.sock_path))
        with contextlib.suppress(FileNotFoundError):
            self.sock_path.unlink()  # stale, from an engine that was killed
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.sock_path))
        os.chmod(self.sock_path, 0o600)  # only this user may drive the engine
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._accept, name="harness-engine", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            try:
                request = _receive(conn)
                self.requests.put(Request(list(request["argv"]), str(request.get("cwd", ".")), conn))
            except Exception:
                conn.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.sock_path.unlink()


def call_engine_alive(sock_path: Path) -> bool:
    if not sock_path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(sock_path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def execute(argv: list[str], cwd: str, spark: Any) -> dict[str, Any]:
    """Run one served command line in this process on ``spark``; its output and exit code."""
    from harness.cli.main import build_parser
    from harness.errors import HarnessError

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    code = 0
    started = time.perf_counter()
    try:
        os.chdir(cwd)
        args = build_parser().parse_args(argv)
        if args.command not in SERVED_COMMANDS:
            raise HarnessError(
                f"a warm engine serves only {', '.join(SERVED_COMMANDS)}, not {args.command!r}"
            )
        args.spark = spark
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = int(args.func(args) or 0)
    except HarnessError as exc:
        err.write(f"Error: {exc}\n")
        code = getattr(exc, "exit_code", 1)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    except Exception as exc:  # the engine keeps running; the caller sees the failure
        err.write(f"Error: {type(exc).__name__}: {exc}\n")
        code = 1
    finally:
        os.chdir(previous)
    return {
        "exit": code,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "engine_s": time.perf_counter() - started,
    }


def serve_one(server: EngineServer, spark: Any, timeout: float) -> bool:
    """Answer one queued request if one arrives within ``timeout`` seconds; True if one was served."""
    try:
        request = server.requests.get(timeout=timeout)
    except queue.Empty:
        return False
    answer = execute(request.argv, request.cwd, spark)
    with contextlib.suppress(OSError), request.conn:
        _send(request.conn, answer)
    return True


__all__ = [
    "ENGINE_ENV",
    "SERVED_COMMANDS",
    "ChangeWatcher",
    "EngineServer",
    "call_engine",
    "call_engine_alive",
    "execute",
    "serve_one",
]
