"""Simulator throughput: orders/s including rendering, defects, oracle, NDJSON writing and fsync.

    pytest benchmarks/bench_simulator.py -m slow -s                       # quick: 100k orders
    SIM_BENCH_ORDERS=1000000 pytest benchmarks/bench_simulator.py -m slow -s
    SIM_BENCH_ROUNDS=3 ...                                                # best and median of 3 runs
    SIM_BENCH_DIR=/dev/shm SIM_BENCH_FSYNC=0 ...                          # take the disk out of the figure
    SIM_BENCH_BATCHES=60 SIM_BENCH_CUSTOMERS=200000 ...                   # memory vs run length

Each round prints orders/s, lines/s, MB/s, CPU seconds (all threads) and the load average, because
the machine is shared and wall-clock figures move with it. Peak RSS is the process's high-water mark
(ru_maxrss), so run one size per process for a clean figure.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from simulator import Simulator, SimulatorConfig

pytestmark = pytest.mark.slow
ORDERS = int(os.environ.get("SIM_BENCH_ORDERS", "100000"))
BATCHES = int(os.environ.get("SIM_BENCH_BATCHES", "10"))
ROUNDS = int(os.environ.get("SIM_BENCH_ROUNDS", "1"))
FSYNC = os.environ.get("SIM_BENCH_FSYNC", "1") != "0"
CUSTOMERS = int(os.environ.get("SIM_BENCH_CUSTOMERS", str(max(1000, ORDERS // 5))))


def _round(config: SimulatorConfig, out: Path) -> dict[str, float]:
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    orders = order_lines = lines = size = 0
    for result in Simulator(config, out, fsync=FSYNC).run(BATCHES):  # results not kept: RSS = the simulator's
        orders += result.new_orders
        order_lines += result.order_lines
        lines += result.order_lines + result.customer_lines
        size += sum(f.size_bytes for f in result.files)
    wall = time.perf_counter() - started
    shutil.rmtree(out)
    return {
        "orders": orders,
        "order_lines": order_lines,
        "lines": lines,
        "gb": size / 1e9,
        "seconds": wall,
        "cpu_seconds": time.process_time() - cpu,
        "orders_per_s": orders / wall,
        "lines_per_s": lines / wall,
        "mb_per_s": size / wall / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def test_generate_orders(benchmark: Any) -> None:
    base = Path(tempfile.mkdtemp(prefix="simbench-", dir=os.environ.get("SIM_BENCH_DIR")))
    config = SimulatorConfig(orders_per_batch=ORDERS // BATCHES, customers=CUSTOMERS, profile="realistic")
    rounds: list[dict[str, float]] = []

    def generate() -> None:
        figures = _round(config, base / f"run{len(rounds)}")
        rounds.append(figures)
        print("\n" + " ".join(f"{k}={v:,.2f}" for k, v in figures.items()))

    try:
        benchmark.pedantic(generate, rounds=ROUNDS, iterations=1)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rates = [r["orders_per_s"] for r in rounds]
    summary = {
        "fsync": FSYNC,
        "rounds": len(rounds),
        "orders_per_s_best": max(rates),
        "orders_per_s_median": statistics.median(rates),
        "lines_per_s_best": max(r["lines_per_s"] for r in rounds),
        "mb_per_s_best": max(r["mb_per_s"] for r in rounds),
        "cpu_seconds_best": min(r["cpu_seconds"] for r in rounds),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
    }
    benchmark.extra_info.update(summary | {"per_round": rounds})
    print(" ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    assert all(r["orders"] >= ORDERS * 0.8 for r in rounds)
