"""Fixtures for the Auto Loader tests: one `Rig` (input dir, schema location, checkpoint, Delta target)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from autoloader_helpers import Rig


@pytest.fixture
def rig(spark: Any, tmp_path: Path) -> Rig:
    return Rig(spark, tmp_path)
