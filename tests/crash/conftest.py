"""Fixtures of the crash-recovery tests: one local PostgreSQL, and the trials table in the report.

The PostgreSQL state directory comes from `tempfile.mkdtemp` (pytest's tmp root is mode 0700, which
the server's unprivileged account cannot traverse; see tests/postgres/conftest.py). The trials
tables are printed in a "crash-recovery trials" section at the end of the pytest run, passed or
failed, and written next to the test's tmp directory.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from crash_helpers import TRIAL_TABLES

from harness.postgres import PostgresInfo, provide_postgres
from harness.state import StateLayout


@pytest.fixture(scope="session")
def crash_pg() -> Iterator[PostgresInfo]:
    state = StateLayout.at(tempfile.mkdtemp(prefix="harness-crash-pg-"))
    try:
        with provide_postgres(state, prefer="local") as info:
            yield info
    finally:
        shutil.rmtree(state.root, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIAL_TABLES:
        return
    terminalreporter.section("crash-recovery trials")
    for name, table in TRIAL_TABLES:
        terminalreporter.write_line(name)
        terminalreporter.write_line(table)
        terminalreporter.write_line("")
