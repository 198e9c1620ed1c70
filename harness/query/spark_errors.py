"""A Spark SQL error as one line: its error class, message and position in the query.

Spark's exceptions carry the JVM stack trace in their text (hundreds of lines for an internal
error); a user who typed ``SELEC 1`` needs the first line and where in the query it went wrong.
"""

from __future__ import annotations

from typing import Any

from harness.errors import SqlQueryError


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _call(exc: Any, name: str) -> Any:
    method = getattr(exc, name, None)
    try:
        return method() if callable(method) else None
    except Exception:  # a py4j-backed getter whose JVM side is gone
        return None


def sql_error(exc: BaseException, query: str) -> SqlQueryError:
    """The `SqlQueryError` for a Spark exception raised by `query`."""
    error_class = _call(exc, "getCondition") or _call(exc, "getErrorClass")
    message = _first_line(exc)
    position = None
    for context in _call(exc, "getQueryContext") or []:
        start = _call(context, "startIndex")
        if isinstance(start, int) and start >= 0:
            position = start
            break
    return SqlQueryError(query, message, error_class=error_class, position=position)
