"""Simulator throughput: orders/s including rendering, defects, oracle and NDJSON writing.

    nox -s bench -- benchmarks/bench_simulator.py                          # quick: 100k orders
    nox -s bench -- benchmarks/bench_simulator.py --bench-size=large       # 1M orders (the target's size)
    SIM_BENCH_ORDERS=1000000 pytest benchmarks/bench_simulator.py -m slow -s   # the same, without nox
    SIM_BENCH_ROUNDS=3 ...                                                 # best and median of 3 runs
    SIM_BENCH_DIR=/dev/shm SIM_BENCH_FSYNC=0 ...                           # take the disk out of the figure

Each round records orders/s, lines/s, MB/s, CPU seconds (all threads) and the load average, because
the machine is shared and wall-clock figures move with it. Peak RSS is the process's high-water mark
(ru_maxrss): the simulator runs in the pytest process, so run it first or alone for a clean figure.
fsync defaults to on here (the simulator's own default: batches are durable before the pipeline sees
them); docs/simulator.md has the fsync-off and /dev/shm figures.
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
from benchlib.report import ResultsBook, Section
from benchlib.sizes import Size, skip_unless

from simulator import Simulator, SimulatorConfig

# docs/simulator.md runs this file alone with `-m slow`; nothing else selects on it.
pytestmark = pytest.mark.slow
ROUNDS = int(os.environ.get("SIM_BENCH_ROUNDS", "1"))
FSYNC = os.environ.get("SIM_BENCH_FSYNC", "1") != "0"
TARGET_ORDERS_PER_S = 500_000


def _round(config: SimulatorConfig, out: Path, batches: int) -> dict[str, float]:
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    orders = order_lines = lines = size = 0
    for result in Simulator(config, out, fsync=FSYNC).run(batches):  # results not kept: RSS = the simulator's
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


def test_generate_orders(benchmark: Any, bench_size: Size, results: ResultsBook) -> None:
    skip_unless(bench_size, bench_size.simulator_orders > 0, "no simulator run")
    # SIM_BENCH_ORDERS / SIM_BENCH_BATCHES (docs/simulator.md) override the size's counts
    total = int(os.environ.get("SIM_BENCH_ORDERS", bench_size.simulator_orders))
    batches = int(os.environ.get("SIM_BENCH_BATCHES", bench_size.simulator_batches))
    customers = int(os.environ.get("SIM_BENCH_CUSTOMERS", str(max(1000, total // 5))))
    base = Path(tempfile.mkdtemp(prefix="simbench-", dir=os.environ.get("SIM_BENCH_DIR")))
    config = SimulatorConfig(orders_per_batch=total // batches, customers=customers, profile="realistic")
    rounds: list[dict[str, float]] = []

    def generate() -> None:
        figures = _round(config, base / f"run{len(rounds)}", batches)
        rounds.append(figures)
        print("\n" + " ".join(f"{k}={v:,.2f}" for k, v in figures.items()))

    try:
        benchmark.pedantic(generate, rounds=ROUNDS, iterations=1)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rates = [r["orders_per_s"] for r in rounds]
    summary = {
        "orders": total,
        "batches": batches,
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
    best = summary["orders_per_s_best"]
    results.add(
        "simulator",
        Section(
            "Simulator throughput",
            figures=summary,
            rows=[{k: v for k, v in r.items() if k != "order_lines"} for r in rounds],
            targets=[
                (
                    f"simulator orders/s ({total:,} orders, fsync {'on' if FSYNC else 'off'})",
                    f">= {TARGET_ORDERS_PER_S:,}",
                    f"{best:,.0f}",
                    best >= TARGET_ORDERS_PER_S,
                )
            ],
        ),
    )
    assert all(r["orders"] >= total * 0.8 for r in rounds)
