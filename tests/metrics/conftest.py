"""Fixtures for the metrics tests: one real pipeline with two finished updates (shared by every test:
updates cost seconds) and its PostgreSQL servers.

`metrics_pg` runs each export test twice: against the local provider and in a Docker container.
PostgreSQL state directories come from `tempfile.mkdtemp`, not pytest's `tmp_path`: pytest resets
its root to mode 0700 at session start, which the server's unprivileged account must traverse (see
tests/postgres/conftest.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from metrics_helpers import BATCHES, PipelineRun, Staged, land, write_pipeline

from harness.postgres import PostgresInfo, provide_postgres
from harness.state import StateLayout

PG_ENV_VARS = (
    "HARNESS_PG_DSN",
    "HARNESS_PG_PASSWORD",
    "HARNESS_PG_PROVIDER",
    "PGPASSWORD",
    "PGHOST",
    "PGPORT",
)


@pytest.fixture(autouse=True)
def _clean_pg_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PG_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def metrics_run(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """The tiny pipeline after two updates (one landed file each)."""
    from harness.pipeline import LocalPipeline

    base = tmp_path_factory.mktemp("metrics-pipeline")
    root, settings = write_pipeline(base, "metrics_tiny")
    state = StateLayout.at(base / "state")
    pipeline = LocalPipeline(root, settings, state=state, spark=spark, max_concurrent_flows=2)
    results = []
    for index, records in enumerate(BATCHES):
        land(pipeline.volume_path("/Volumes/main/raw/landing/orders"), index, records)
        result = pipeline.run()
        assert result.succeeded, result.error
        results.append(result)
    return PipelineRun(pipeline, results, state)


@pytest.fixture(scope="session")
def staged(metrics_run: PipelineRun) -> Staged:
    """The session pipeline's metrics staged once (Delta), shared by every export test."""
    return Staged(metrics_run)


@pytest.fixture(scope="session")
def pg_state() -> Iterator[StateLayout]:
    state = StateLayout.at(tempfile.mkdtemp(prefix="harness-metrics-pg-"))
    yield state
    shutil.rmtree(state.root, ignore_errors=True)


@pytest.fixture(scope="session")
def local_metrics_pg(pg_state: StateLayout) -> Iterator[PostgresInfo]:
    """The local server alone, for tests whose cost is Spark rather than PostgreSQL."""
    with provide_postgres(pg_state, prefer="local") as info:
        yield info


@pytest.fixture(scope="session", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def metrics_pg(request: pytest.FixtureRequest, pg_state: StateLayout) -> Iterator[PostgresInfo]:
    """The server of the export tests: the local provider, and a Docker container (the `docker`
    variants skip, with the reason, when no engine answers; see `docker_engine_env`)."""
    if request.param == "docker":
        env = request.getfixturevalue("docker_engine_env")
        with provide_postgres(pg_state, prefer="docker", environ=env) as info:
            yield info
        return
    yield request.getfixturevalue("local_metrics_pg")


@pytest.fixture
def fresh_pg_state() -> Iterator[StateLayout]:
    """A state directory for a test that stops and restarts its own server."""
    state = StateLayout.at(tempfile.mkdtemp(prefix="harness-metrics-pg-own-"))
    yield state
    shutil.rmtree(state.root, ignore_errors=True)
