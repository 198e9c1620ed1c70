"""Fixtures of the reference pipeline's tests: the scripts/ folder on sys.path (paths: pipeline_paths.py)."""

from __future__ import annotations

import sys

from pipeline_paths import REPO_ROOT

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
