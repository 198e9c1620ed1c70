"""Golden bytes: the sha256 of every file and manifest of small seeded runs, pinned.

The simulator is optimised for speed (see docs/simulator.md, Performance); these digests were
recorded before that work and prove that no optimisation changes a single output byte. A change
that is meant to alter the data (a contract change) must update `golden_sha256.json` on purpose:
`python tests/simulator/test_simulator_golden.py` rewrites it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.unit
GOLDEN = Path(__file__).with_name("golden_sha256.json")

#: Each run covers other paths: multi-part files, every defect kind and the drift (hostile);
#: events spilling over several batches (6h windows); json-array; dense and sparse timestamp text.
RUNS: dict[str, tuple[int, dict[str, Any]]] = {
    "hostile_drift": (
        4,
        {
            "orders_per_batch": 300,
            "customers": 400,
            "products": 40,
            "profile": "hostile",
            "lines_per_file": 400,
            "schema_drift_at": 2,
        },
    ),
    "realistic_6h": (
        3,
        {"orders_per_batch": 2000, "customers": 1500, "interval": "6h", "seed": 7, "lines_per_file": 2500},
    ),
    "json_array": (
        2,
        {"orders_per_batch": 60, "customers": 50, "format": "json-array", "profile": "hostile", "seed": 3},
    ),
    "realistic_large": (
        2,
        {"orders_per_batch": 20000, "customers": 8000, "lines_per_file": 15000, "schema_drift_at": 2},
    ),
}


def digests(out: Path) -> dict[str, str]:
    """sha256 of every file below `out`, by relative path (temporaries would show up too)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def produce(name: str, out: Path) -> dict[str, str]:
    batches, options = RUNS[name]
    for _ in Simulator(SimulatorConfig(**options), out, fsync=False).run(batches):
        pass
    return digests(out)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_output_bytes_match_the_golden_digests(tmp_path: Path, name: str) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    actual = produce(name, tmp_path)
    assert sorted(actual) == sorted(expected)
    changed = [path for path in expected if actual[path] != expected[path]]
    assert changed == []


if __name__ == "__main__":  # re-record on purpose (contract change only)
    with tempfile.TemporaryDirectory() as scratch:
        recorded = {name: produce(name, Path(scratch) / name) for name in sorted(RUNS)}
    GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({sum(len(v) for v in recorded.values())} files)", file=sys.stderr)
