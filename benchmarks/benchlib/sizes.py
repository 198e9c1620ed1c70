"""Benchmark sizes (``--bench-size``): how many orders each benchmark pushes through.

``quick`` is the default and fits in a few minutes on 2 idle cores (10 incremental batches instead
of 20, one overhead round); ``large`` holds the figures the
targets in benchmarks/README.md are stated for; ``soak`` runs only the soak benchmark. Every count
can be overridden with an environment variable (``BENCH_<FIELD>``, e.g. ``BENCH_SOAK_BATCHES=30``)
so a loaded machine can still run a shorter version of the same thing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Size:
    name: str
    #: simulator throughput: orders generated in total, in `simulator_batches` batches
    simulator_orders: int
    simulator_batches: int
    #: per-layer throughput: one fresh pipeline and one update per order count
    layer_orders: tuple[int, ...]
    #: batch k vs batch 1: `incremental_batches` equal batches, one update after each
    incremental_batches: int
    incremental_orders: int
    #: harness vs plain PySpark: orders landed once, both run `overhead_rounds` times, alternately
    overhead_orders: int
    overhead_rounds: int
    #: soak: batches x orders, one update after each (only with --bench-size=soak)
    soak_batches: int
    soak_orders: int


SIZES: dict[str, Size] = {
    "quick": Size("quick", 100_000, 10, (10_000,), 10, 1_000, 10_000, 1, 0, 0),
    "medium": Size("medium", 300_000, 10, (10_000, 100_000), 20, 5_000, 100_000, 2, 0, 0),
    "large": Size("large", 1_000_000, 10, (10_000, 100_000, 1_000_000), 20, 10_000, 100_000, 2, 0, 0),
    "soak": Size("soak", 0, 1, (), 0, 0, 0, 0, 100, 10_000),
}


def _env_value(name: str, default: object) -> object:
    raw = os.environ.get(f"BENCH_{name.upper()}")
    if raw is None:
        return default
    if isinstance(default, tuple):
        return tuple(int(v) for v in raw.split(",") if v.strip())
    return type(default)(raw)


def resolve(name: str) -> Size:
    """The named size with any ``BENCH_<FIELD>`` environment overrides applied."""
    base = SIZES[name]
    overrides = {f.name: _env_value(f.name, getattr(base, f.name)) for f in fields(base) if f.name != "name"}
    return replace(base, **overrides)


def skip_unless(size: Size, wanted: bool, why: str) -> None:
    """Skip the calling benchmark when the chosen size does not include it."""
    import pytest

    if not wanted:
        pytest.skip(f"not part of --bench-size={size.name}: {why}")
