"""Make `import simulator` resolve to the package when this folder is collected on its own.

pytest's default (prepend) import mode puts `tests/` on sys.path, where this folder (`tests/simulator`,
no `__init__.py`) would shadow the real package as a namespace package when `pytest tests/simulator`
runs alone (a full run imports the package earlier, through other tests). The repository root goes
first on sys.path so the real package wins either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
