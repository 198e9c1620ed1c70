"""Shared fixtures: one small local Spark + Delta session for the whole test run.

Markers (see pyproject.toml): `unit` tests need no JVM; `spark` tests share the session below and
use a fresh `tmp_path` each; `postgres` tests use a real server from the provider chain; `docker`
tests run PostgreSQL containers in the Docker engine at DOCKER_HOST (see `docker_engine_env`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# One Ivy cache for every test run and the e2e job, so the Delta jars are resolved once per machine.
os.environ.setdefault("HARNESS_IVY_DIR", str(REPO_ROOT / ".harness" / "ivy"))


@pytest.fixture(scope="session")
def spark_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """State directory (warehouse, metastore, temp) of the shared Spark session."""
    return tmp_path_factory.mktemp("spark-state")


@pytest.fixture(scope="session")
def spark(spark_state_dir: Path):
    """The shared SparkSession (local, Delta, Hive metastore in the session state dir, UI off)."""
    from harness.spark import create_session, stop_session

    session = create_session(spark_state_dir, app_name="harness-tests")
    yield session
    stop_session()


#: Set by .ci/run: the Docker engine must answer, so `docker` tests fail instead of skipping.
REQUIRE_DOCKER_ENV = "HARNESS_REQUIRE_DOCKER"


@pytest.fixture(scope="session")
def docker_engine_env() -> dict[str, str]:
    """The environment for `docker` tests: DOCKER_HOST and HARNESS_PG_IMAGE as given (the image
    defaults to the locally built local/postgres-debian:15). Skips, with the reason, when no engine
    answers or the image is missing; fails instead when HARNESS_REQUIRE_DOCKER=1 (CI)."""
    from harness.postgres.docker import IMAGE_ENV, probe_docker

    env = {
        key: os.environ[key]
        for key in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
        if key in os.environ
    }
    env[IMAGE_ENV] = os.environ.get(IMAGE_ENV, "").strip() or "local/postgres-debian:15"
    required = os.environ.get(REQUIRE_DOCKER_ENV, "") == "1"
    probe = probe_docker(env)
    reason = ""
    if not probe.available:
        reason = f"no Docker engine answers at {probe.endpoint}: {probe.reason}"
    else:
        import docker

        client = docker.from_env(environment=env)
        try:
            client.images.get(env[IMAGE_ENV])
        except docker.errors.ImageNotFound:
            reason = f"the image {env[IMAGE_ENV]} is not in the engine at {probe.endpoint} (scripts/postgres-image.sh)"
        finally:
            client.close()
    if reason and required:
        pytest.fail(f"{REQUIRE_DOCKER_ENV}=1 but {reason}")
    if reason:
        pytest.skip(reason)
    return env
