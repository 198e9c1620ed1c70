"""Secret values never reach text the harness writes: logs, the event log, captured output.

Databricks replaces a secret's value with ``[REDACTED]`` in notebook output and logs. Locally
every value `dbutils.secrets.get` hands out is remembered (for this process) and replaced the
same way in log records, in event-log messages, details and errors, and in what pipeline code
prints while an update runs.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

REDACTED = "[REDACTED]"

_lock = threading.Lock()
_values: set[str] = set()


def remember(value: str) -> None:
    """Redact `value` from now on (empty values are not secrets worth hiding)."""
    if value:
        with _lock:
            _values.add(value)
        _attach_log_filter()


def redact(text: Any) -> Any:
    """`text` with every revealed secret replaced by [REDACTED]; non-strings pass through."""
    if not isinstance(text, str) or not _values:
        return text
    with _lock:
        values = sorted(_values, key=len, reverse=True)  # longest first: one secret inside another
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (with its arguments applied) so no secret value is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _values:
            message = record.getMessage()
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_FILTER = RedactingFilter()


def _attach_log_filter() -> None:
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


class _RedactingStream:
    """A text stream proxy whose writes are redacted; everything else goes to the wrapped stream."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """While pipeline code runs, what it prints to stdout/stderr is redacted."""
    _attach_log_filter()
    previous = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _RedactingStream(sys.stdout), _RedactingStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = previous
