"""Provider (b), the run: a throw-away PostgreSQL container through Testcontainers.

Works with two kinds of engine:

- a normal engine (a laptop's Docker Desktop or dockerd with its ``bridge`` network): the
  container's 5432 is mapped to a port the engine picks, as Testcontainers always does;
- a bridge-less engine (``dockerd --bridge=none``, as on our CI machines): the container shares
  the host's network, the harness picks a free loopback port and tells PostgreSQL (``PGPORT``)
  to listen there, on 127.0.0.1 only.

Ryuk, Testcontainers' reaper container, is switched off (its own ``ryuk_disabled`` switch, the
same as ``TESTCONTAINERS_RYUK_DISABLED=true``; an explicit setting of that variable wins): it is
one more image to pull, which offline engines cannot. The harness cleans up itself instead:
the container is removed when the block ends, on Ctrl-C, SIGTERM, SIGHUP and at exit (through
`cleanup`), and every container carries a label naming its owner process, so that the next run
removes containers whose owner died without cleaning up (SIGKILL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psutil

from harness.errors import PostgresUnavailableError
from harness.postgres import cleanup
from harness.postgres.docker import DOCKER_DATABASE, DOCKER_USER, docker_endpoint, docker_image
from harness.postgres.info import PostgresInfo, redact
from harness.postgres.local import free_port

log = logging.getLogger(__name__)

#: Every container the harness starts carries this label: ``<hostname>:<pid>:<process start time>``.
OWNER_LABEL = "io.harness.postgres.owner"
RYUK_ENV = "TESTCONTAINERS_RYUK_DISABLED"
READY_TIMEOUT = 60.0
LOOPBACK = "127.0.0.1"
IMAGE_HINT = "build it with scripts/postgres-image.sh (local/postgres-debian:15), or set HARNESS_PG_IMAGE"


def owner_label(pid: int | None = None) -> str:
    """This process (or ``pid``) as an owner label value; the start time guards against pid reuse."""
    proc = psutil.Process(pid)
    return f"{socket.gethostname()}:{proc.pid}:{proc.create_time():.2f}"


def owner_alive(value: str) -> bool:
    """False only when the owner surely is gone: same host, and no process with that pid and start."""
    host, _, rest = value.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's container (a shared remote engine): not ours to judge
    try:
        proc = psutil.Process(int(pid_text))
        return abs(proc.create_time() - float(started)) < 0.05
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.Error:
        return True


def sweep(client: Any) -> list[str]:
    """Remove the harness' containers whose owner process has died; returns their short ids."""
    removed = []
    for found in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        owner = found.labels.get(OWNER_LABEL, "")
        if owner_alive(owner):
            continue
        log.warning("Removing PostgreSQL container %s left behind by %s (owner gone)", found.short_id, owner)
        with contextlib.suppress(Exception):  # already removed by someone else
            found.remove(force=True, v=True)
            removed.append(found.short_id)
    return removed


def _disable_ryuk(env: Mapping[str, str]) -> None:
    from testcontainers.core.config import testcontainers_config

    if env.get(RYUK_ENV, "").strip() == "":
        testcontainers_config.ryuk_disabled = True


def _engine(env: Mapping[str, str], endpoint: str, image: str) -> Any:
    import docker

    try:
        client = docker.from_env(environment=dict(env), timeout=30)
        client.ping()
        return client
    except Exception as exc:
        raise _unavailable(endpoint, image, f"the Docker engine does not answer ({exc})") from None


def _unavailable(endpoint: str, image: str, reason: str) -> PostgresUnavailableError:
    return PostgresUnavailableError(
        host=f"a {image} container of the Docker engine at {endpoint}",
        database=DOCKER_DATABASE,
        reason=reason,
    )


def _has_bridge(client: Any) -> bool:
    return bool(client.networks.list(names=["bridge"]))


def _postgres_container_class() -> type:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.14 kept the module at the top level
        from testcontainers.postgres import PostgresContainer  # type: ignore[no-redef]

    class HarnessPostgresContainer(PostgresContainer):  # type: ignore[misc, valid-type]
        """Readiness is a real login from this process, and a container that exits fails at once
        (Testcontainers' own wait runs psql inside the container and retries for two minutes)."""

        #: The port PostgreSQL listens on in the host's network; None: the engine maps 5432.
        host_port: int | None = None
        connect_host: str = LOOPBACK
        connect_port: int = 5432

        def _connect(self) -> None:
            import psycopg2

            if self.host_port is None:
                self.connect_host = self.get_container_host_ip()
                self.connect_port = int(self.get_exposed_port(self.port))
            else:
                self.connect_host, self.connect_port = LOOPBACK, self.host_port
            deadline = time.monotonic() + READY_TIMEOUT
            wrapped = self.get_wrapped_container()
            while True:
                wrapped.reload()
                if wrapped.status in ("exited", "dead"):
                    tail = wrapped.logs(tail=15).decode("utf-8", "replace").strip()
                    raise _ContainerExited(tail)
                try:
                    psycopg2.connect(
                        host=self.connect_host,
                        port=self.connect_port,
                        user=self.username,
                        password=self.password,
                        dbname=self.dbname,
                        sslmode="disable",
                        connect_timeout=2,
                    ).close()
                    return
                except psycopg2.OperationalError as exc:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"not ready after {READY_TIMEOUT:.0f}s: {exc}") from None
                    time.sleep(0.1)

    return HarnessPostgresContainer


class _ContainerExited(Exception):
    """The container stopped before PostgreSQL answered; the message is the tail of its log."""


def _remove(container: Any) -> None:
    wrapped = container._container
    if wrapped is None:
        return
    with contextlib.suppress(Exception):  # already gone (removed by a sweep or by hand)
        wrapped.remove(force=True, v=True)
        log.info("Removed PostgreSQL container %s", wrapped.short_id)
    with contextlib.suppress(Exception):
        container.get_docker_client().client.close()


@contextmanager
def docker_postgres(environ: Mapping[str, str] | None = None) -> Iterator[PostgresInfo]:
    """Run a PostgreSQL container for the duration of the block, then remove it.

    The image is ``HARNESS_PG_IMAGE`` or ``postgres:18-alpine``; the password is random per container.
    """
    env = os.environ if environ is None else environ
    endpoint = docker_endpoint(env)
    image = docker_image(env)
    _disable_ryuk(env)
    client = _engine(env, endpoint, image)
    try:
        sweep(client)
        _require_image(client, endpoint, image)
        host_network = not _has_bridge(client)
    finally:
        client.close()
    for _attempt in range(3):
        started = _start(env, endpoint, image, host_network)
        if started is not None:
            break
    else:
        raise _unavailable(endpoint, image, "three ports in a row were taken while starting; try again")
    container, info, token = started
    log.info(
        "PostgreSQL container %s (%s) ready at %s:%d (%s)",
        container._container.short_id, image, info.host, info.port,
        "host network" if host_network else "mapped port",
    )  # fmt: skip
    try:
        yield info
    finally:
        if cleanup.unregister(token):
            _remove(container)


def _require_image(client: Any, endpoint: str, image: str) -> None:
    """Pull the image if the engine lacks it; a failed pull names the image, the engine and the fix."""
    import docker

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    log.info("Pulling %s into the Docker engine at %s", image, endpoint)
    try:
        client.images.pull(image)
    except Exception as exc:
        reason = str(exc).strip()
        raise _unavailable(
            endpoint,
            image,
            f"the image {image} is not in the engine and could not be pulled ({reason}); {IMAGE_HINT}",
        ) from None


def _start(
    env: Mapping[str, str], endpoint: str, image: str, host_network: bool
) -> tuple[Any, PostgresInfo, object] | None:
    """Start one container; None if the port chosen for the host network was taken meanwhile."""
    password = secrets.token_urlsafe(18)
    try:  # the constructor already talks to the engine (docker-py asks for its API version)
        container = _configure(_postgres_container_class(), env, image, password, host_network)
    except Exception as exc:
        raise _unavailable(endpoint, image, f"the Docker engine does not answer ({exc})") from None
    token = object()
    cleanup.register(token, lambda: _remove(container))
    try:
        container.start()
    except _ContainerExited as exc:
        cleanup.unregister(token)
        _remove(container)
        tail = redact(str(exc), password)
        if host_network and ("could not bind" in tail or "Address already in use" in tail):
            return None
        raise _unavailable(
            endpoint, image, f"the container exited during start-up; its log ends: {tail}"
        ) from None
    except BaseException as exc:  # includes Ctrl-C while waiting: leave no container behind
        cleanup.unregister(token)
        _remove(container)
        if not isinstance(exc, Exception):
            raise
        reason = redact(f"{exc.__class__.__name__}: {exc}".strip(), password)
        raise _unavailable(endpoint, image, f"could not start it through Testcontainers: {reason}") from None
    info = PostgresInfo(
        provider="docker",
        host=container.connect_host,
        port=container.connect_port,
        database=DOCKER_DATABASE,
        user=DOCKER_USER,
        sslmode="disable",
        password=password,
    )
    return container, info, token


def _configure(cls: type, env: Mapping[str, str], image: str, password: str, host_network: bool) -> Any:
    """The container as Testcontainers will create it: labelled with its owner, and on a
    bridge-less engine in the host's network on a port chosen here."""
    container = cls(
        image,
        username=DOCKER_USER,
        password=password,
        dbname=DOCKER_DATABASE,
        driver=None,
        docker_client_kw={"environment": dict(env)},
    )
    labels = {OWNER_LABEL: owner_label()}
    if not host_network:
        container.with_kwargs(labels=labels)
        return container
    port = free_port()
    container.ports = {}  # nothing to publish: the container uses the host's ports
    container.with_kwargs(labels=labels, network_mode="host")
    container.with_env("PGPORT", str(port))  # the server's default port (postgres:* images too)
    container.with_command(["postgres", "-c", f"listen_addresses={LOOPBACK}"])
    container.host_port = port
    return container
