"""Which database failures are weather and which are not: the export's error classification.

A transient error (connection refused or lost, serialization failure, deadlock, timeout, the server
shutting down) is retried with backoff; anything else is not. An error that later batches would meet
too (a transient one, a refused login, a full disk) stops the export after the failing batch; a data
error in one batch (a CHECK violation) lets it go on with the next.
"""

from __future__ import annotations

__all__ = ["PERMANENT_CONNECT_ERRORS", "TRANSIENT_SQLSTATES", "is_transient", "stops_export"]

#: SQLSTATEs worth retrying: serialization failure, deadlock, query canceled (statement_timeout),
#: admin/crash shutdown, cannot connect now, too many connections, lock not available.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57014", "57P01", "57P02", "57P03", "53300", "55P03"})
#: libpq reports a refused login without a SQLSTATE (the server's FATAL arrives as text): these
#: connection failures are configuration, not weather, and are never retried.
PERMANENT_CONNECT_ERRORS = (
    "password authentication failed",
    "authentication failed for user",
    "no pg_hba.conf entry",
    "does not exist",  # role or database
    "no password supplied",
    "server does not support ssl",
    "certificate verify failed",
    "permission denied for database",
)


def is_transient(exc: BaseException) -> bool:
    """True for errors a later attempt may not see (class 08 connection errors, `TRANSIENT_SQLSTATES`,
    an OperationalError without SQLSTATE such as "connection refused", socket timeouts)."""
    import psycopg2

    code = getattr(exc, "pgcode", None)
    if code:
        return code.startswith("08") or code in TRANSIENT_SQLSTATES
    text = str(exc).lower()
    if any(marker in text for marker in PERMANENT_CONNECT_ERRORS):
        return False
    return isinstance(
        exc, psycopg2.OperationalError | psycopg2.InterfaceError | TimeoutError | ConnectionError
    )


def stops_export(exc: BaseException) -> bool:
    """True when later batches would fail the same way, so the export stops after this one: transient
    errors, a refused login, and class 53 (disk full, out of memory: not retried, the server must be
    fixed first). A data error in one batch (a CHECK violation) lets the export go on."""
    code = getattr(exc, "pgcode", None) or ""
    return is_transient(exc) or code.startswith("53") or (not code and _is_connect_error(exc))


def _is_connect_error(exc: BaseException) -> bool:
    import psycopg2

    return isinstance(exc, psycopg2.OperationalError) and "connection to server" in str(exc)
