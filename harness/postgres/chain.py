"""The provider chain: an existing server (HARNESS_PG_DSN), else Docker, else a local server.

`choose_provider` is pure (the Docker probe is passed in) so the order is unit-tested without a
Docker engine; `provide_postgres` runs the chosen provider as a context manager and logs, at
INFO, which provider it chose and why. ``prefer`` (or ``HARNESS_PG_PROVIDER``) forces one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from harness.errors import PostgresConfigError, PostgresUnavailableError
from harness.postgres import cleanup
from harness.postgres.container import docker_postgres
from harness.postgres.docker import DockerProbe, docker_image, probe_docker
from harness.postgres.dsn import DSN_ENV, info_from_environment
from harness.postgres.info import PostgresInfo, redact
from harness.postgres.local import acquire_local, release_local
from harness.postgres.local_files import LocalPaths
from harness.state import StateLayout

log = logging.getLogger(__name__)

PROVIDER_ENV = "HARNESS_PG_PROVIDER"
PROVIDERS = ("env", "docker", "local")


@dataclass(frozen=True)
class ProviderChoice:
    """Which provider the chain picked and a sentence saying why (logged at INFO)."""

    provider: str
    reason: str
    forced: bool = False


def choose_provider(
    prefer: str | None,
    environ: Mapping[str, str],
    docker_probe: Callable[[], DockerProbe],
) -> ProviderChoice:
    """Pick a provider. The Docker engine is probed only when the choice depends on it."""
    forced = (prefer or environ.get(PROVIDER_ENV, "")).strip().lower() or None
    source = "prefer=" if prefer else f"{PROVIDER_ENV}="
    if forced is not None and forced not in PROVIDERS:
        raise PostgresConfigError(
            PROVIDER_ENV if not prefer else "prefer", forced, f"choose one of {', '.join(PROVIDERS)}"
        )
    has_dsn = bool(environ.get(DSN_ENV, "").strip())
    if forced == "env":
        if not has_dsn:
            raise PostgresConfigError(
                DSN_ENV, "", f"{source}env asks for an existing server, but {DSN_ENV} is unset"
            )
        return ProviderChoice("env", f"{source}env", forced=True)
    if forced in ("docker", "local"):
        return ProviderChoice(forced, f"{source}{forced}", forced=True)
    if has_dsn:
        return ProviderChoice("env", f"{DSN_ENV} is set")
    probe = docker_probe()
    if probe.available:
        return ProviderChoice(
            "docker",
            f"{DSN_ENV} is not set; the Docker engine at {probe.endpoint} {probe.reason} "
            f"in {probe.elapsed * 1000:.0f} ms",
        )
    return ProviderChoice(
        "local",
        f"{DSN_ENV} is not set; no Docker engine at {probe.endpoint}: {probe.reason} "
        f"(probed in {probe.elapsed * 1000:.0f} ms), so no {docker_image(environ)} container",
    )


def check_reachable(info: PostgresInfo, timeout: int = 5) -> None:
    """Connect once so that a wrong host, database or password fails here, clearly."""
    import psycopg2

    overrides = (
        {} if any(key == "connect_timeout" for key, _ in info.options) else {"connect_timeout": timeout}
    )
    try:
        info.connect(**overrides).close()
    except psycopg2.Error as exc:
        reason = redact(str(exc).strip(), info.password)
        hint = (
            f" Check {DSN_ENV} (and HARNESS_PG_PASSWORD), or unset it to let the harness run a server."
            if info.provider == "env"
            else ""
        )
        raise PostgresUnavailableError(
            host=info.address, database=info.database, reason=reason + hint
        ) from None


@contextmanager
def provide_postgres(
    state: StateLayout,
    *,
    prefer: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Iterator[PostgresInfo]:
    """A reachable PostgreSQL for the duration of the block.

    A local server started here is stopped when the block ends (also on Ctrl-C, SIGTERM, SIGHUP),
    unless another process still uses it or it was started with `harness postgres start`.
    """
    env = os.environ if environ is None else environ
    choice = choose_provider(prefer, env, lambda: probe_docker(env))
    log.info("PostgreSQL provider: %s (%s)", choice.provider, choice.reason)
    if choice.provider == "env":
        info = info_from_environment(env)
        assert info is not None  # choose_provider checked the variable
        check_reachable(info)
        log.info("Using the existing PostgreSQL at %s, database %r", info.address, info.database)
        yield info
        return
    if choice.provider == "docker":
        stack = ExitStack()
        try:
            info = stack.enter_context(docker_postgres(env))
        except PostgresUnavailableError as exc:
            if choice.forced:
                raise
            # The engine answered but could not run the container (no image and no registry, ...).
            log.warning("%s Falling back to the local server.", exc)
        else:
            with stack:
                yield info
            return
    yield from _local(LocalPaths(state.postgres_dir))


def _local(paths: LocalPaths) -> Iterator[PostgresInfo]:
    token = object()
    cleanup.register(token, lambda: release_local(paths))
    try:
        info, _started = acquire_local(paths)
    except BaseException:
        cleanup.unregister(token)
        raise
    try:
        yield info
    finally:
        if cleanup.unregister(token):
            release_local(paths)
