"""Per-layer throughput (bronze, silver, gold) and end-to-end orders/s of the real pipeline.

For each order count of the size (quick: 10k; medium: 10k, 100k; large: 10k, 100k, 1M) one seeded
simulator batch is landed in a fresh dev landing volume and ONE triggered update of the unchanged
pipeline (`pipeline/`, bundle target dev) runs through `LocalPipeline` on a fresh state directory.
A layer's time is the span from its first flow starting to its last flow finishing (flows of a layer
run concurrently, up to HARNESS_MAX_CONCURRENT_FLOWS); end to end is the whole update, including
loading the pipeline sources, resolving the graph and writing the event log.

The session is warmed first by one unrecorded 1k-order update (`warm_spark` in conftest.py): the
first update in a fresh JVM pays for class loading and JIT compilation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchlib.memory import PeakMemory
from benchlib.report import ResultsBook, Section
from benchlib.sizes import Size, skip_unless
from benchlib.workload import LAYERS, new_run, run_update

TARGET_E2E_ORDERS_PER_S = 60_000


def _measure(spark: Any, state: Path, orders: int) -> dict[str, Any]:
    run = new_run(spark, state, orders)
    landed = run.simulator.next_batch()
    with PeakMemory() as memory:
        update = run_update(run, landed.new_orders)
    update["peak_tree_rss_mb"] = memory.peak_mb
    update["order_lines"] = landed.order_lines
    update["customer_lines"] = landed.customer_lines
    return update


def test_layer_throughput(
    benchmark: Any, bench_size: Size, results: ResultsBook, warm_spark: Any, bench_dir: Path
) -> None:
    skip_unless(bench_size, bool(bench_size.layer_orders), "no per-layer run")
    measured: list[dict[str, Any]] = []

    def run_all() -> None:
        for orders in bench_size.layer_orders:
            update = _measure(warm_spark, bench_dir / f"layers-{orders}", orders)
            measured.append(update)
            print(f"\n{orders:,} orders: {update['seconds']:.1f} s, layers {update['layer_seconds']}")

    benchmark.pedantic(run_all, rounds=1, iterations=1)

    rows = []
    for update in measured:
        n = update["orders"]
        row: dict[str, Any] = {
            "orders": n,
            "order_event_lines": update["order_lines"],
            "update_s": update["seconds"],
            "update_cpu_s": update["cpu_seconds"],
            "e2e_orders_per_s": n / update["seconds"],
            # what 2 idle cores would reach if the update's CPU work were spread over both
            "e2e_orders_per_s_cpu_bound_2_cores": n / (update["cpu_seconds"] / 2),
        }
        for layer in LAYERS:
            span = update["layer_seconds"].get(layer, float("nan"))
            row[f"{layer}_s"] = span
            row[f"{layer}_orders_per_s"] = n / span if span else float("nan")
        row.update({f"phase_{k}_s": v for k, v in update["phase_seconds"].items()})
        row["peak_tree_rss_mb"] = update["peak_tree_rss_mb"]
        rows.append(row)
        # every flow ran and wrote: bronze holds every landed line, gold has rows
        flows = update["flows"]
        assert flows["bronze_orders"]["rows"] == update["order_lines"], flows["bronze_orders"]
        assert flows["gold_daily_orders"]["rows"] > 0

    largest = rows[-1]
    slowest_flows = sorted(measured[-1]["flows"].items(), key=lambda kv: -kv[1]["seconds"])[:6]
    benchmark.extra_info.update({"rows": rows})
    results.add(
        "layers",
        Section(
            "Per-layer throughput (one update of the real pipeline per size)",
            figures={"largest_orders": largest["orders"], "e2e_orders_per_s": largest["e2e_orders_per_s"]},
            rows=rows,
            targets=[
                (
                    f"end to end orders/s through all three layers ({largest['orders']:,} orders, 1 update)",
                    f">= {TARGET_E2E_ORDERS_PER_S:,}",
                    f"{largest['e2e_orders_per_s']:,.0f}",
                    largest["e2e_orders_per_s"] >= TARGET_E2E_ORDERS_PER_S,
                )
            ],
            chart={
                "kind": "bar",
                "xlabel": "orders in the update",
                "ylabel": "orders/s",
                "x": [r["orders"] for r in rows],
                "series": {
                    **{layer: [r[f"{layer}_orders_per_s"] for r in rows] for layer in LAYERS},
                    "end to end": [r["e2e_orders_per_s"] for r in rows],
                },
            },
            notes=[
                "Slowest flows at the largest size (flow seconds, concurrent flows overlap): "
                + ", ".join(f"{name} {f['seconds']:.1f}s" for name, f in slowest_flows),
                "A layer's orders/s is orders / the layer's wall-clock span; layers overlap little "
                "(silver waits for bronze, gold for silver), so the end-to-end time is about their sum "
                "plus the update's fixed cost (source loading, graph, table set-up, event log).",
                "update_cpu_s is the CPU time of the whole process tree (Python driver, JVM, Python workers) "
                "during the update; e2e_orders_per_s_cpu_bound_2_cores = orders / (CPU s / 2) is an upper "
                "bound for an idle 2-core machine, given because wall clock here depends on others' load.",
            ],
        ),
    )
