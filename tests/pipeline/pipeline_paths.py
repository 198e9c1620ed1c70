"""Repository paths of the reference pipeline's tests.

A module with a unique name (not ``conftest``): several test folders have a ``conftest.py``, and
``from conftest import ...`` would import whichever of them Python loaded first.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
#: the reference pipeline runs as its Databricks Asset Bundle deploys it: databricks.yml, this target
BUNDLE_TARGET = "dev"
