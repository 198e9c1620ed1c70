"""Fixtures for the PostgreSQL provider tests: real servers from the local provider.

State directories are made with `tempfile.mkdtemp` under /tmp rather than pytest's `tmp_path`:
pytest resets its own root (/tmp/pytest-of-<user>) to mode 0700 at every session start, and a
concurrent test run on the same machine could do so while our unprivileged server account is
walking that path. mkdtemp's 0700 directory still exercises the traversal grant.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psutil
import pytest

from harness.postgres import PostgresInfo, provide_postgres
from harness.state import StateLayout

PG_ENV_VARS = (
    "HARNESS_PG_DSN",
    "HARNESS_PG_PASSWORD",
    "HARNESS_PG_PROVIDER",
    "HARNESS_PG_BIN",
    "HARNESS_PG_SYSTEM_USER",
    "PGPASSWORD",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSSLMODE",
)


@pytest.fixture(autouse=True)
def _clean_pg_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide the provider themselves: a developer's own HARNESS_PG_DSN must not leak in."""
    for name in PG_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def make_state(prefix: str = "harness-pg-test-") -> StateLayout:
    return StateLayout.at(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture
def fresh_state() -> Iterator[StateLayout]:
    """A new, empty state directory for a test that starts and stops its own server."""
    state = make_state()
    yield state
    shutil.rmtree(state.root, ignore_errors=True)


@pytest.fixture(scope="session")
def local_state() -> Iterator[StateLayout]:
    state = make_state("harness-pg-session-")
    yield state
    shutil.rmtree(state.root, ignore_errors=True)


@pytest.fixture(scope="session")
def local_pg(local_state: StateLayout) -> Iterator[PostgresInfo]:
    """One local server (provider c) shared by the tests that only need a server."""
    with provide_postgres(local_state, prefer="local") as info:
        yield info


def _server_processes(state: StateLayout) -> list[psutil.Process]:
    """The postmaster recorded in ``<state>/postgres/server.json`` and all of its children."""
    record = json.loads((Path(state.postgres_dir) / "server.json").read_text())
    postmaster = psutil.Process(record["pid"])
    return [postmaster, *postmaster.children(recursive=True)]


def _assert_all_gone(processes: list[psutil.Process]) -> None:
    """Each process has exited and been reaped (a zombie counts as left behind)."""
    left = []
    for proc in processes:
        try:
            if proc.is_running():  # is_running also checks the pid was not recycled
                left.append(f"{proc.pid} {proc.status()} {proc.name()}")
        except psutil.NoSuchProcess:
            continue
    assert not left, f"processes left behind: {left}"


@pytest.fixture
def server_processes() -> Callable[[StateLayout], list[psutil.Process]]:
    return _server_processes


@pytest.fixture
def assert_all_gone() -> Callable[[list[psutil.Process]], None]:
    return _assert_all_gone


def _table_copy_query(info: PostgresInfo, table: str) -> list[tuple[str, int, float]]:
    """Create ``table``, COPY three rows into it (psycopg2 copy_expert), read an aggregate back."""
    conn = info.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(
                f"CREATE TABLE {table} (order_id text PRIMARY KEY, status text, amount numeric(10,2))"
            )
            data = io.StringIO("o-1,PLACED,10.50\no-2,SHIPPED,4.25\no-3,PLACED,1.00\n")
            cur.copy_expert(f"COPY {table} (order_id, status, amount) FROM STDIN WITH (FORMAT csv)", data)
            cur.execute(f"SELECT status, count(*), sum(amount) FROM {table} GROUP BY status ORDER BY status")
            return [(status, count, float(total)) for status, count, total in cur.fetchall()]
    finally:
        conn.close()


#: What `table_copy_query` reads back.
COPY_RESULT = [("PLACED", 2, 11.5), ("SHIPPED", 1, 4.25)]


@pytest.fixture
def table_copy_query() -> Callable[[PostgresInfo, str], list[tuple[str, int, float]]]:
    """Run the table + COPY + query proof; returns (status, count, sum) rows, see COPY_RESULT."""

    def run(info: PostgresInfo, table: str) -> list[tuple[str, int, float]]:
        rows = _table_copy_query(info, table)
        assert rows == COPY_RESULT
        return rows

    return run


# --- a fake Docker engine on a real socket (for provider (b) detection) ----------------------------

#: What a fake engine sends back to GET /_ping.
ENGINE_REPLIES = {
    "ok": b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK",
    "error": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerror",
    "silent": b"",
}


@contextmanager
def fake_engine(sock: socket.socket, reply: str) -> Iterator[list[bytes]]:
    """Serve one connection on the bound ``sock``: read the request, answer as ``reply`` says
    (a key of ENGINE_REPLIES; "silent" accepts and never answers). Yields the requests received."""
    requests: list[bytes] = []
    stop = threading.Event()
    sock.listen(1)
    sock.settimeout(5)

    def serve() -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            requests.append(conn.recv(1024))
            if reply == "silent":
                stop.wait(10)
            else:
                conn.sendall(ENGINE_REPLIES[reply])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        stop.set()
        thread.join(5)
        sock.close()


@pytest.fixture
def docker_engine() -> Callable[[socket.socket, str], AbstractContextManager[list[bytes]]]:
    """`fake_engine(sock, reply)` for tests: a fake Docker engine on a socket the test bound."""
    return fake_engine
