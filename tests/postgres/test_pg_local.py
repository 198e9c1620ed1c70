"""Provider (c) for real: a server in <state>/postgres takes a table, a COPY and a query; it is
reused while running and leaves no process behind when stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from harness.postgres import PostgresInfo, provide_postgres
from harness.postgres.local import running_server
from harness.postgres.local_files import LocalPaths
from harness.state import StateLayout

pytestmark = pytest.mark.postgres


def test_local_server_takes_a_table_a_copy_and_a_query(
    local_pg: PostgresInfo, local_state: StateLayout, table_copy_query
) -> None:
    assert local_pg.provider == "local"
    assert local_pg.host == "127.0.0.1"
    table_copy_query(local_pg, "orders_local")
    record = json.loads((local_state.postgres_dir / "server.json").read_text())
    postmaster = psutil.Process(record["pid"])
    assert str(local_state.postgres_dir / "data") in postmaster.cmdline()
    if os.geteuid() == 0:
        assert postmaster.username() != "root"


def test_local_server_listens_on_loopback_tcp_only(local_pg: PostgresInfo) -> None:
    conn = local_pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT current_setting('listen_addresses'), current_setting('unix_socket_directories')"
            )
            assert cur.fetchone() == ("127.0.0.1", "")
            cur.execute("SELECT current_user, current_database(), current_setting('server_version_num')::int")
            assert cur.fetchone()[:2] == ("harness", "harness")
    finally:
        conn.close()


def test_printed_dsn_works_through_the_passfile(local_pg: PostgresInfo) -> None:
    import psycopg2

    assert local_pg.passfile and "password" not in local_pg.dsn()
    conn = psycopg2.connect(local_pg.dsn())
    conn.close()


def test_second_provider_reuses_the_running_server(local_pg: PostgresInfo, local_state: StateLayout) -> None:
    before = json.loads((local_state.postgres_dir / "server.json").read_text())
    began = time.monotonic()
    with provide_postgres(local_state, prefer="local") as again:
        warm = time.monotonic() - began
        assert (again.port, again.password) == (local_pg.port, local_pg.password)
    after = json.loads((local_state.postgres_dir / "server.json").read_text())
    assert after["pid"] == before["pid"]
    assert running_server(LocalPaths(local_state.postgres_dir)) is not None  # still up for the first user
    assert warm < 2.0


def test_stopping_leaves_no_process_and_restart_keeps_data(
    fresh_state: StateLayout, server_processes, assert_all_gone, table_copy_query
) -> None:
    with provide_postgres(fresh_state, prefer="local") as info:
        processes = server_processes(fresh_state)
        assert len(processes) >= 4  # postmaster, checkpointer, walwriter, ... : children are covered too
        table_copy_query(info, "orders_restart")
        first_port = info.port
    assert_all_gone(processes)
    assert not (fresh_state.postgres_dir / "server.json").exists()

    began = time.monotonic()
    with provide_postgres(fresh_state, prefer="local") as info:
        restart = time.monotonic() - began
        conn = info.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM orders_restart")
            assert cur.fetchone() == (3,)
        conn.close()
        assert info.port == first_port  # the last port is preferred while it is free
        processes = server_processes(fresh_state)
    assert_all_gone(processes)
    assert restart < 10


def test_password_is_not_on_any_command_line(
    local_pg: PostgresInfo, local_state: StateLayout, server_processes
) -> None:
    assert local_pg.password
    for proc in server_processes(local_state):
        assert local_pg.password not in " ".join(proc.cmdline())


def test_cli_start_status_dsn_stop(
    fresh_state: StateLayout, server_processes, assert_all_gone, table_copy_query
) -> None:
    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness.cli.main", "postgres", *args, "--state", str(fresh_state.root)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    started = harness("start")
    assert started.returncode == 0, started.stderr
    processes = server_processes(fresh_state)  # the server outlives the command
    assert harness("start").returncode == 0
    assert server_processes(fresh_state)[0].pid == processes[0].pid  # idempotent

    status = harness("status")
    assert status.returncode == 0 and "persistent" in status.stdout

    with provide_postgres(fresh_state, prefer="local") as info:  # a user of the persistent server
        table_copy_query(info, "orders_cli")
    assert processes[0].is_running()  # a persistent server survives its users

    dsn = harness("dsn")
    assert dsn.returncode == 0
    import psycopg2

    psycopg2.connect(dsn.stdout.strip()).close()
    password = (fresh_state.postgres_dir / "password").read_text().strip()
    for out in (started, status, dsn, harness("dsn", "--jdbc")):
        assert password not in out.stdout + out.stderr

    stopped = harness("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert_all_gone(processes)
    assert harness("status").returncode == 3
    missing = harness("dsn", "--local")
    assert missing.returncode == 1 and "harness postgres start" in missing.stderr
