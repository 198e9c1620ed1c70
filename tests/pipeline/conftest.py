"""Fixtures of the reference pipeline's tests: repository paths and the scripts/ folder on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
SETTINGS_DIR = PIPELINE_ROOT / "configurations" / "settings"

if str(REPO_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
