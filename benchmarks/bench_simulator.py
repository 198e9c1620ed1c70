"""Simulator throughput: orders/s including rendering, defects, oracle, NDJSON writing and fsync.

    pytest benchmarks/bench_simulator.py -m slow                 # quick: 100k orders
    SIM_BENCH_ORDERS=1000000 pytest benchmarks/bench_simulator.py -m slow -s
    SIM_BENCH_DIR=/dev/shm SIM_BENCH_FSYNC=0 ...                  # take the disk out of the figure

Peak RSS is the process's high-water mark (ru_maxrss), so run one size per process for a clean figure.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.slow
ORDERS = int(os.environ.get("SIM_BENCH_ORDERS", "100000"))
BATCHES = int(os.environ.get("SIM_BENCH_BATCHES", "10"))
FSYNC = os.environ.get("SIM_BENCH_FSYNC", "1") != "0"


def test_generate_orders(benchmark: Any) -> None:
    base = Path(tempfile.mkdtemp(prefix="simbench-", dir=os.environ.get("SIM_BENCH_DIR")))
    config = SimulatorConfig(orders_per_batch=ORDERS // BATCHES, customers=max(1000, ORDERS // 5), profile="realistic")
    figures: dict[str, float] = {}

    def generate() -> None:
        out = base / f"run{len(figures)}"
        started, cpu = time.perf_counter(), time.process_time()
        results = list(Simulator(config, out, fsync=FSYNC).run(BATCHES))
        wall = time.perf_counter() - started
        orders = sum(r.new_orders for r in results)
        lines = sum(r.order_lines for r in results)
        size = sum(f.size_bytes for r in results for f in r.files)
        figures.update(
            orders=orders,
            order_lines=lines,
            seconds=wall,
            cpu_seconds=time.process_time() - cpu,
            orders_per_s=orders / wall,
            lines_per_s=lines / wall,
            mb_per_s=size / wall / 1e6,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
        shutil.rmtree(out)

    try:
        benchmark.pedantic(generate, rounds=1, iterations=1)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    benchmark.extra_info.update(figures)
    print(" ".join(f"{k}={v:,.1f}" for k, v in figures.items()))
    assert figures["orders"] >= ORDERS * 0.8
