"""Fixtures for monitoring tests: one local PostgreSQL server (provider c) for the session.

State lives under a mkdtemp directory in /tmp (not pytest's tmp_path), for the reason given in
tests/postgres/conftest.py: the server's unprivileged account must be able to walk to it.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.postgres import PostgresInfo, provide_postgres
from harness.state import StateLayout


@pytest.fixture(scope="session")
def monitoring_pg() -> Iterator[PostgresInfo]:
    state = StateLayout.at(tempfile.mkdtemp(prefix="harness-monitoring-pg-"))
    with provide_postgres(state, prefer="local") as info:
        yield info
    shutil.rmtree(state.root, ignore_errors=True)


@pytest.fixture
def pg_conn(monitoring_pg: PostgresInfo) -> Iterator[Any]:
    conn = monitoring_pg.connect()
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def pg_schema(pg_conn: Any) -> Iterator[str]:
    """A fresh schema name per test, dropped afterwards."""
    name = f"mon_{uuid.uuid4().hex[:10]}"
    yield name
    pg_conn.rollback()
    with pg_conn, pg_conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def reference_run(
    spark: Any, monitoring_pg: PostgresInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A small real run of the reference pipeline, exported with alerting on (tests/monitoring/reference_run.py)."""
    from reference_run import reference_run as run

    with run(spark, monitoring_pg, tmp_path_factory.mktemp("reference-run") / "state") as result:
        yield result
    conn = monitoring_pg.connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{result.schema}" CASCADE')
    finally:
        conn.close()
