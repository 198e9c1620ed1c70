"""Stop what this process started, whichever way it ends: normally, Ctrl-C, SIGTERM or SIGHUP.

`provide_postgres`' context manager covers a normal exit and Ctrl-C (KeyboardInterrupt unwinds
through it). SIGTERM and SIGHUP would kill Python without unwinding, so while a lease is held a
handler releases the leases first and then hands the signal on: to the previous Python handler
if there was one, otherwise it restores the default action and re-sends the signal, so the
process still dies of that signal with the exit status a supervisor expects. An atexit hook
catches leases whose context was never closed. Handlers are installed on first use (no side
effects at import) and only from the main thread, where Python allows it.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_leases: list[tuple[object, Callable[[], Any]]] = []
_previous: dict[int, Any] = {}
_guard = threading.RLock()
_atexit_registered = False


def register(token: object, release: Callable[[], Any]) -> None:
    """Remember that ``release()`` must run before this process ends."""
    global _atexit_registered
    with _guard:
        _leases.append((token, release))
        if not _atexit_registered:
            atexit.register(release_all)
            _atexit_registered = True
        _install_handlers()


def unregister(token: object) -> bool:
    """Forget ``token``; False if it was already released (by a signal handler or atexit)."""
    with _guard:
        for index, (held, _) in enumerate(_leases):
            if held is token:
                del _leases[index]
                return True
        return False


def release_all() -> None:
    """Release every lease still held, newest first; errors are logged, not raised (we are exiting)."""
    with _guard:
        pending = list(reversed(_leases))
        _leases.clear()
    for _, release in pending:
        try:
            release()
        except Exception:
            log.exception("Could not release a PostgreSQL lease while exiting")


def _install_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        if signum in _previous:
            continue
        current = signal.getsignal(signum)
        if current == signal.SIG_IGN:  # the process chose to survive this signal: so does the server
            continue
        _previous[signum] = current
        signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    log.info("Received %s: stopping the PostgreSQL server(s) this process uses", signal.Signals(signum).name)
    release_all()
    previous = _previous.pop(signum, signal.SIG_DFL)
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    # Default action: die of the same signal, as if we had never caught it.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
