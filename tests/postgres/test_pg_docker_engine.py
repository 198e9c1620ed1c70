"""Provider (b) against a real Docker engine: containers start, answer, and never outlive their run.

Needs an engine at DOCKER_HOST and the image HARNESS_PG_IMAGE (default local/postgres-debian:15,
from scripts/postgres-image.sh); skips with the reason otherwise (`docker_engine_env`). The tests
of a missing image or a dead engine need no engine and run everywhere.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import PostgresUnavailableError
from harness.postgres import provide_postgres
from harness.postgres.container import OWNER_LABEL
from harness.state import StateLayout

REPO_ROOT = Path(__file__).resolve().parents[2]

#: A run that holds a Docker PostgreSQL, prints its port, and waits to be killed.
HOLDER = """
import sys, time
from harness.postgres import provide_postgres
from harness.state import StateLayout
with provide_postgres(StateLayout.at(sys.argv[1]), prefer="docker") as pg:
    print(pg.port, flush=True)
    time.sleep(300)
"""


def harness_containers(env: dict[str, str], pid: int | None = None) -> list[str]:
    """Ids of the containers (running or not) labelled as the harness', optionally of owner ``pid``."""
    import docker

    client = docker.from_env(environment=env)
    try:
        found = client.containers.list(all=True, filters={"label": OWNER_LABEL})
        return [c.id for c in found if pid is None or c.labels[OWNER_LABEL].split(":")[1] == str(pid)]
    finally:
        client.close()


def query_one(info, sql: str):
    conn = info.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        conn.close()


@pytest.fixture
def holder(docker_engine_env: dict[str, str], fresh_state: StateLayout) -> Iterator[subprocess.Popen[str]]:
    """A child process holding a container; yields once the container answers."""
    env = {**os.environ, **docker_engine_env, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("HARNESS_PG_PROVIDER", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(fresh_state.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
    ready = selector.select(timeout=120)
    line = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
    if not line.strip().isdigit():
        proc.kill()
        pytest.fail(f"the holder did not get a container: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


pytestmark = [pytest.mark.postgres]


@pytest.mark.docker
def test_chain_picks_docker_when_the_engine_answers(
    docker_engine_env: dict[str, str], fresh_state: StateLayout, table_copy_query, caplog
) -> None:
    caplog.set_level("INFO", logger="harness.postgres")
    before = set(harness_containers(docker_engine_env, os.getpid()))  # a session fixture's, if any
    with provide_postgres(fresh_state, environ=docker_engine_env) as info:
        assert info.provider == "docker"
        table_copy_query(info, "docker_copy_proof")
        assert query_one(info, "SELECT current_database(), current_user") == ("harness", "harness")
        assert len(set(harness_containers(docker_engine_env, os.getpid())) - before) == 1
    assert set(harness_containers(docker_engine_env, os.getpid())) == before
    assert "PostgreSQL provider: docker (HARNESS_PG_DSN is not set; the Docker engine at" in caplog.text
    assert "Removed PostgreSQL container" in caplog.text


@pytest.mark.docker
def test_two_containers_at_once_get_their_own_ports(
    docker_engine_env: dict[str, str], fresh_state: StateLayout
) -> None:
    before = set(harness_containers(docker_engine_env, os.getpid()))
    with (
        provide_postgres(fresh_state, prefer="docker", environ=docker_engine_env) as first,
        provide_postgres(fresh_state, prefer="docker", environ=docker_engine_env) as second,
    ):
        assert first.port != second.port
        assert first.password != second.password
        first_conn = first.connect()
        with first_conn, first_conn.cursor() as cur:
            cur.execute("CREATE TABLE only_in_first (id int)")
        first_conn.close()
        assert query_one(second, "SELECT to_regclass('only_in_first')") == (None,)
    assert set(harness_containers(docker_engine_env, os.getpid())) == before


@pytest.mark.docker
def test_sigterm_removes_the_container(
    docker_engine_env: dict[str, str], holder: subprocess.Popen[str]
) -> None:
    assert len(harness_containers(docker_engine_env, holder.pid)) == 1
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(60) == -signal.SIGTERM  # the handler cleans up, then the signal takes its course
    assert harness_containers(docker_engine_env, holder.pid) == []


@pytest.mark.docker
def test_a_killed_run_is_swept_by_the_next_run(
    docker_engine_env: dict[str, str], holder: subprocess.Popen[str], fresh_state: StateLayout, caplog
) -> None:
    left = harness_containers(docker_engine_env, holder.pid)
    assert len(left) == 1
    holder.kill()  # SIGKILL: nothing runs in the child, the container stays
    holder.wait(30)
    assert harness_containers(docker_engine_env, holder.pid) == left
    caplog.set_level("WARNING", logger="harness.postgres")
    with provide_postgres(fresh_state, prefer="docker", environ=docker_engine_env) as info:
        assert harness_containers(docker_engine_env, holder.pid) == []
        assert query_one(info, "SELECT 1") == (1,)
    assert f"left behind by {os.uname().nodename}:{holder.pid}:" in caplog.text


@pytest.mark.docker
def test_missing_image_names_image_and_engine_then_falls_through_to_local(
    docker_engine_env: dict[str, str], fresh_state: StateLayout, caplog
) -> None:
    env = {**docker_engine_env, "HARNESS_PG_IMAGE": "local/no-such-postgres:1"}
    endpoint = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    with (
        pytest.raises(PostgresUnavailableError) as raised,
        provide_postgres(fresh_state, prefer="docker", environ=env),
    ):
        pass
    message = str(raised.value)
    assert "local/no-such-postgres:1" in message and endpoint in message
    assert "scripts/postgres-image.sh" in message
    caplog.set_level("INFO", logger="harness.postgres")
    with provide_postgres(fresh_state, environ=env) as info:  # not forced: the chain goes on
        assert info.provider == "local"
        assert query_one(info, "SELECT 1") == (1,)
    assert "local/no-such-postgres:1" in caplog.text and "Falling back to the local server" in caplog.text


def test_dead_engine_names_image_and_engine_then_falls_through_to_local(
    tmp_path: Path, fresh_state: StateLayout, caplog
) -> None:
    endpoint = f"unix://{tmp_path / 'dead.sock'}"
    env = {"DOCKER_HOST": endpoint, "HARNESS_PG_IMAGE": "local/postgres-debian:15"}
    with (
        pytest.raises(PostgresUnavailableError) as raised,
        provide_postgres(fresh_state, prefer="docker", environ=env),
    ):
        pass
    assert "local/postgres-debian:15" in str(raised.value) and endpoint in str(raised.value)
    assert raised.value.fields["database"] == "harness"
    caplog.set_level("INFO", logger="harness.postgres")
    with provide_postgres(fresh_state, environ=env) as info:
        assert info.provider == "local"
    assert f"no Docker engine at {endpoint}" in caplog.text
    assert "so no local/postgres-debian:15 container" in caplog.text


@pytest.mark.docker
def test_a_port_taken_on_the_host_network_is_retried_on_another(
    docker_engine_env: dict[str, str], fresh_state: StateLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a bridge-less engine the harness picks the port; one taken before PostgreSQL binds it
    makes the container exit, and the harness tries another port instead of failing."""
    import docker
    from harness.postgres import container as container_module
    from harness.postgres.local import free_port

    client = docker.from_env(environment=docker_engine_env)
    has_bridge = bool(client.networks.list(names=["bridge"]))
    client.close()
    if has_bridge:
        pytest.skip("the engine maps ports: the harness picks no port there")
    before = set(harness_containers(docker_engine_env, os.getpid()))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        ports = iter([taken, free_port()])
        monkeypatch.setattr(container_module, "free_port", lambda: next(ports))
        with provide_postgres(fresh_state, prefer="docker", environ=docker_engine_env) as info:
            assert info.port != taken
            assert query_one(info, "SELECT 1") == (1,)
    assert set(harness_containers(docker_engine_env, os.getpid())) == before
