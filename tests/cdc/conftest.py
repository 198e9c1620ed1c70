"""Fixtures for the AUTO CDC engine tests: a fresh database and target per test, spec builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.cdc import CdcTarget


@pytest.fixture
def database(spark, tmp_path: Path):
    """A database of its own for one test, dropped afterwards."""
    name = f"cdc_{uuid.uuid4().hex[:10]}"
    spark.sql(f"CREATE DATABASE {name} LOCATION '{tmp_path / 'db'}'")
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.fixture
def make_target(database: str, tmp_path: Path) -> Callable[[str], CdcTarget]:
    """Build CdcTarget(s) in the test's database, with storage and state under tmp_path."""

    def build(table: str = "target") -> CdcTarget:
        return CdcTarget(
            table_name=f"{database}.{table}",
            path=str(tmp_path / "tables" / table),
            state_path=str(tmp_path / "state" / table),
        )

    return build
