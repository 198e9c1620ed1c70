"""Soak: many equal batches with one update after each; time and memory must stay flat, no leaks.

Only with ``--bench-size=soak`` (100 batches x 10k orders; ``BENCH_SOAK_BATCHES`` /
``BENCH_SOAK_ORDERS`` shorten it). After every update: the update's wall time, the process tree's
RSS (driver Python + JVM + Python workers), open file descriptors of this process
(/proc/self/fd) and of the JVM, Python threads (`threading.active_count`) and JVM threads (the
JVM process's OS threads, through psutil: cheap, no JVM call). Least-squares slopes over the batch
index say whether anything grows; the first batches are excluded from the slopes (`WARM` below)
because they create tables and warm the JIT.

Time is judged on the streaming flows (bronze, silver events, quarantine, AUTO CDC): materialized
views are recomputed over all data on every update, so their time grows with the history by design
(see bench_incremental.py); the whole update's slope is reported next to it.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchlib.memory import snapshot
from benchlib.report import ResultsBook, Section, least_squares_slope
from benchlib.sizes import Size, skip_unless
from benchlib.workload import STREAMING, new_run, run_update

WARM = 3
#: a leak of one fd or thread per batch shows as a slope of 1; noise stays well below these
MAX_FD_SLOPE = 0.2
MAX_THREAD_SLOPE = 0.2


def test_soak(
    benchmark: Any, bench_size: Size, results: ResultsBook, warm_spark: Any, bench_dir: Path
) -> None:
    skip_unless(bench_size, bench_size.soak_batches > 0, "the soak runs only with --bench-size=soak")
    run = new_run(warm_spark, bench_dir / "soak", bench_size.soak_orders, seed=31)
    per_batch: list[dict[str, Any]] = []
    deadline = time.monotonic() + float(os.environ.get("BENCH_SOAK_MAX_SECONDS", "inf"))

    def soak() -> None:
        for k in range(1, bench_size.soak_batches + 1):
            landed = run.simulator.next_batch()
            update = run_update(run, landed.new_orders)
            assert update["flows"]["bronze_orders"]["rows"] == landed.order_lines, k
            gc.collect()
            resources = snapshot()
            flows = update["flows"]
            per_batch.append(
                {
                    "batch": k,
                    "update_s": update["seconds"],
                    "update_cpu_s": update["cpu_seconds"],
                    "streaming_flow_s": sum(flows[f]["seconds"] for f in STREAMING if f in flows),
                    **asdict(resources),
                    "load_1m": os.getloadavg()[0],
                }
            )
            print(f"\nsoak batch {k}: {update['seconds']:.1f} s, {resources}")
            _save(results, bench_size, per_batch, partial=True)
            if time.monotonic() > deadline:
                break

    benchmark.pedantic(soak, rounds=1, iterations=1)
    figures = _save(results, bench_size, per_batch, partial=False)
    benchmark.extra_info.update(figures)
    assert figures["python_fds_slope_per_batch"] <= MAX_FD_SLOPE, figures
    assert figures["jvm_threads_slope_per_batch"] <= MAX_THREAD_SLOPE * 5, figures
    assert figures["python_threads_slope_per_batch"] <= MAX_THREAD_SLOPE, figures


def _save(
    results: ResultsBook, size: Size, per_batch: list[dict[str, Any]], *, partial: bool
) -> dict[str, Any]:
    """Slopes over the steady batches; written after every batch so an interrupted soak keeps its data."""
    steady = per_batch[WARM:] if len(per_batch) > WARM + 2 else per_batch

    def slope(key: str) -> float:
        return least_squares_slope([b[key] for b in steady])

    figures: dict[str, Any] = {
        "batches_run": len(per_batch),
        "batches_planned": size.soak_batches,
        "orders_per_batch": size.soak_orders,
        "slopes_from_batch": steady[0]["batch"] if steady else None,
        "update_s_first_steady": steady[0]["update_s"] if steady else None,
        "update_s_last": per_batch[-1]["update_s"] if per_batch else None,
    }
    for key in (
        "update_s",
        "streaming_flow_s",
        "tree_rss_mb",
        "jvm_rss_mb",
        "python_rss_mb",
        "python_fds",
        "jvm_fds",
        "python_threads",
        "jvm_threads",
    ):
        figures[f"{key}_slope_per_batch"] = slope(key) if steady else float("nan")
    rss_growth = figures["tree_rss_mb_slope_per_batch"] * max(1, len(steady) - 1)
    results.add(
        "soak",
        Section(
            f"Soak ({len(per_batch)} of {size.soak_batches} batches x {size.soak_orders:,} orders"
            + (", in progress" if partial else "")
            + ")",
            figures=figures,
            rows=per_batch,
            chart={
                "kind": "line",
                "xlabel": "batch",
                "ylabel": "seconds / GB / count",
                "x": [b["batch"] for b in per_batch],
                "series": {
                    "update s": [b["update_s"] for b in per_batch],
                    "streaming flows s": [b["streaming_flow_s"] for b in per_batch],
                    "tree RSS GB": [b["tree_rss_mb"] / 1024 for b in per_batch],
                    "JVM threads / 10": [b["jvm_threads"] / 10 for b in per_batch],
                    "python fds / 10": [b["python_fds"] / 10 for b in per_batch],
                },
            },
            notes=[
                f"RSS change over the steady batches by the fitted line: {rss_growth:+.0f} MB.",
                "Slopes are least squares over the batch index, excluding the first "
                f"{WARM} batches (table creation, JIT).",
            ],
        ),
    )
    return figures
