"""``python -m quality_suites``: rewrite the stored suite JSON from the code definitions."""

from __future__ import annotations

from quality_suites.store import write_suites

if __name__ == "__main__":
    for path in write_suites():
        print(path)
