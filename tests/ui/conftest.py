"""Fixtures of the pipeline-page tests: a real state directory with two updates (the second FAILED)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_state import build_state


@pytest.fixture(scope="session")
def two_updates(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Any], Path]:
    """(pipeline, [result 1, result 2], state dir), built once per test run through the shared session."""
    base = tmp_path_factory.mktemp("ui-state")
    pipeline, results = build_state(spark, base)
    assert [r.status for r in results] == ["COMPLETED", "FAILED"]
    return pipeline, results, base / "state"
