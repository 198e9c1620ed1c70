"""Shared fixtures: one small local Spark + Delta session for the whole test run.

Markers (see pyproject.toml): `unit` tests need no JVM; `spark` tests share the session below and
use a fresh `tmp_path` each; `postgres` tests use a real server from the provider chain.
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
