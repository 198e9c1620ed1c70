"""The export's connection to PostgreSQL: one at a time, re-opened after a failure, with retries.

`RetryingConnection.run` runs one unit of work on the current connection with tenacity's exponential
backoff plus jitter, retrying only transient errors (`pipeline.metrics.failures.is_transient`); a
failed connection is dropped so the next attempt reconnects. Every log line and error names the
target (``user@host:port/database``), never the password.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from pipeline.config.model import RetryPolicy
from pipeline.metrics.failures import is_transient

__all__ = ["RetryingConnection", "describe_target"]

log = logging.getLogger(__name__)


def describe_target(connect: Callable[[], Any]) -> str | None:
    """``user@host:port/database`` behind a connect function, or None when it cannot tell.

    Understood: an object with ``host`` and ``database`` attributes, a bound method of one
    (`ConnectionSettings.connect`, the harness's ``PostgresInfo.connect``), and a wrapper that
    declares what it wraps with ``functools.wraps`` (``__wrapped__``). Anything else: pass
    ``target=`` to the exporter.
    """
    candidates: list[Any] = []
    for func in (connect, inspect.unwrap(connect)):
        candidates += [func, getattr(func, "__self__", None)]
    for owner in candidates:
        host, database = getattr(owner, "host", None), getattr(owner, "database", None)
        if isinstance(host, str) and isinstance(database, str) and host and database:
            user = getattr(owner, "user", None) or "?"
            return f"{user}@{host}:{getattr(owner, 'port', '?')}/{database}"
    return None


class RetryingConnection:
    """Connections from ``connect`` (a zero-argument callable returning a psycopg2 connection)."""

    def __init__(self, connect: Callable[[], Any], retry: RetryPolicy, target: str) -> None:
        self._connect = connect
        self.retry = retry
        self.target = target
        #: attempts the last `run` took (also when it raised)
        self.last_attempts = 0
        self.current: Any = None

    def get(self) -> Any:
        """The open connection, connecting first when there is none (or it was closed)."""
        if self.current is None or self.current.closed:
            self.current = self._connect()
        return self.current

    def drop(self) -> None:
        """Close and forget the current connection (after a failure: the next `get` reconnects)."""
        if self.current is not None:
            try:
                self.current.close()
            except Exception:
                log.debug("closing a failed connection", exc_info=True)
        self.current = None

    def close(self) -> None:
        self.drop()

    def run(self, what: str, func: Callable[[Any], Any]) -> tuple[Any, int]:
        """``func(connection)`` with exponential backoff + jitter on transient errors.
        Returns (result, attempts); re-raises the last error."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "metrics export to %s: %s failed (attempt %d of %d, %s: %s); retrying in %.2f s",
                self.target,
                what,
                state.attempt_number,
                self.retry.max_attempts,
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if exc else "",
                state.next_action.sleep if state.next_action else 0,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry.initial_wait_s, max=self.retry.max_wait_s, jitter=self.retry.jitter_s
            ),
            retry=retry_if_exception(is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                attempts = self.last_attempts = attempt.retry_state.attempt_number
                try:
                    return func(self.get()), attempts
                except Exception:
                    self.drop()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def error_text(self, exc: BaseException) -> str:
        """The driver's message prefixed with the target (``at user@host:port/db``): a timeout or a disk
        error says nothing about which server it came from. libpq messages never hold the password."""
        text = str(exc).strip() or type(exc).__name__
        code = getattr(exc, "pgcode", None)
        return f"at {self.target}{f' (SQLSTATE {code})' if code else ''}: {text}"
