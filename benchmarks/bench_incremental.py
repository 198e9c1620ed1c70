"""Cost of batch k against batch 1 over equal batches, then the metrics export into PostgreSQL.

One pipeline, one state directory; before each update one equal simulator batch is landed (same
orders per batch, daily interval). Streaming tables (bronze_*, silver_order_events, the quarantine,
silver_customers by AUTO CDC) must read only the new files: the benchmark asserts that each update's
bronze_orders wrote exactly the lines landed for that batch. Materialized views (silver_orders and
everything downstream) are recomputed from all data on every update, as on Databricks without
incremental MV refresh (Enzyme), so their cost grows with the history; both groups are reported.

Ratio reported: median(last 5 updates) / update of batch 1, and the same against batch 2. Batch 1 also
creates every table and infers the Auto Loader schema; a warm-up pipeline runs first in the same JVM,
so JIT warm-up is mostly out of batch 1, but not all (different plans). Batch 2 is the first steady
batch and the ratio against it is the one the target is judged on; both are recorded.

The export test then stages the metrics of these updates (Delta) and exports them with
`pipeline.metrics.postgres_export.PostgresExporter` into a local PostgreSQL from the provider chain.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib.memory import PeakMemory
from benchlib.report import ResultsBook, Section
from benchlib.sizes import Size, skip_unless
from benchlib.workload import LAYERS, STREAMING, Run, new_run, run_update

TARGET_RATIO = 1.15
#: incremental runs shared with the export benchmark of this module
_RUNS: dict[str, Run] = {}


def _ratio(seconds: list[float], base: float) -> float:
    return statistics.median(seconds[-5:]) / base


def test_batch_k_vs_batch_1(
    benchmark: Any, bench_size: Size, results: ResultsBook, warm_spark: Any, bench_dir: Path
) -> None:
    skip_unless(bench_size, bench_size.incremental_batches > 0, "no incremental run")
    n_batches, orders = bench_size.incremental_batches, bench_size.incremental_orders
    run = new_run(warm_spark, bench_dir / "incremental", orders, seed=11)
    _RUNS["incremental"] = run
    per_batch: list[dict[str, Any]] = []

    def batches() -> None:
        for k in range(1, n_batches + 1):
            landed = run.simulator.next_batch()
            with PeakMemory() as memory:
                update = run_update(run, landed.new_orders)
            flows = update["flows"]
            assert flows["bronze_orders"]["rows"] == landed.order_lines, (k, flows["bronze_orders"])
            streaming = sum(flows[f]["seconds"] for f in STREAMING if f in flows)
            per_batch.append(
                {
                    "batch": k,
                    "orders": landed.new_orders,
                    "update_s": update["seconds"],
                    "update_cpu_s": update["cpu_seconds"],
                    **{f"{layer}_s": update["layer_seconds"].get(layer) for layer in LAYERS},
                    "streaming_flow_s": streaming,
                    "mv_flow_s": sum(f["seconds"] for f in flows.values()) - streaming,
                    **{f"phase_{k}_s": v for k, v in update["phase_seconds"].items()},
                    "bronze_rows": flows["bronze_orders"]["rows"],
                    "silver_orders_rows": flows["silver_orders"]["rows"],
                    "peak_tree_rss_mb": memory.peak_mb,
                }
            )
            print(f"\nbatch {k}: {update['seconds']:.1f} s (streaming flows {streaming:.1f} s)")

    benchmark.pedantic(batches, rounds=1, iterations=1)

    seconds = [b["update_s"] for b in per_batch]
    streaming = [b["streaming_flow_s"] for b in per_batch]
    figures = {
        "batches": n_batches,
        "orders_per_batch": orders,
        "batch_1_s": seconds[0],
        "batch_2_s": seconds[1],
        "median_last_5_s": statistics.median(seconds[-5:]),
        "ratio_vs_batch_1": _ratio(seconds, seconds[0]),
        "ratio_vs_batch_2": _ratio(seconds, seconds[1]),
        "streaming_ratio_vs_batch_2": _ratio(streaming, streaming[1]),
        "cpu_ratio_vs_batch_2": _ratio([b["update_cpu_s"] for b in per_batch], per_batch[1]["update_cpu_s"]),
        "peak_tree_rss_mb": max(b["peak_tree_rss_mb"] for b in per_batch),
    }
    benchmark.extra_info.update(figures)
    results.add(
        "incremental",
        Section(
            f"Batch k vs batch 1 ({n_batches} equal batches of {orders:,} orders, one update each)",
            figures=figures,
            rows=per_batch,
            targets=[
                (
                    "batch-k cost: median(last 5) / first steady batch (batch 2), whole update",
                    f"<= {TARGET_RATIO}",
                    f"{figures['ratio_vs_batch_2']:.2f} wall, {figures['cpu_ratio_vs_batch_2']:.2f} CPU "
                    f"(wall vs batch 1: {figures['ratio_vs_batch_1']:.2f})",
                    figures["ratio_vs_batch_2"] <= TARGET_RATIO,
                ),
                (
                    "batch-k cost, streaming flows only (bronze, silver events, quarantine, AUTO CDC)",
                    f"<= {TARGET_RATIO}",
                    f"{figures['streaming_ratio_vs_batch_2']:.2f}",
                    figures["streaming_ratio_vs_batch_2"] <= TARGET_RATIO,
                ),
            ],
            chart={
                "kind": "line",
                "xlabel": "batch",
                "ylabel": "seconds",
                "x": [b["batch"] for b in per_batch],
                "series": {
                    "update": seconds,
                    "streaming flows (sum)": streaming,
                    "materialized-view flows (sum)": [b["mv_flow_s"] for b in per_batch],
                },
            },
            notes=[
                "bronze_orders wrote exactly the lines of its own batch in every update (asserted): the "
                "streaming tables do not reprocess earlier files.",
                "Flow seconds overlap (up to 3 flows run at once), so the two flow sums exceed the update time.",
            ],
        ),
    )


def test_export_rows_per_second(
    benchmark: Any, bench_size: Size, results: ResultsBook, warm_spark: Any
) -> None:
    """Stage the metrics of the incremental run and export them; then the same rows under more ids."""
    skip_unless(bench_size, "incremental" in _RUNS, "needs the incremental run of this module")
    from harness.postgres import provide_postgres
    from harness.state import StateLayout
    from pipeline.metrics.config import load_metrics_config
    from pipeline.metrics.postgres_export import PostgresExporter
    from pipeline.metrics.staging import MetricsStaging

    run = _RUNS["incremental"]
    pipeline = run.pipeline
    pid = pipeline.settings.pipeline_id
    config = load_metrics_config(
        Path(__file__).resolve().parents[1] / "pipeline/configurations/dev_config.json"
    )
    staging = MetricsStaging(warm_spark, root=str(pipeline.layout.root / "bench-metrics-staging"))
    started = time.perf_counter()
    staged = staging.stage(
        pipeline.event_log(),
        pipeline_id=pid,
        cost=config.cost,
        sla=config.sla,
        now=pipeline.runtime.clock(),
        cores=2,
    )
    stage_s = time.perf_counter() - started
    rows = staging.rows_since(pid, 0)
    n_rows = sum(len(v) for v in rows.values())
    copies = 5 if bench_size.name == "quick" else 20
    figures: dict[str, Any] = {"staged_rows": sum(staged.values()), "stage_s": stage_s}
    pg_state = StateLayout.at(tempfile.mkdtemp(prefix="harness-bench-pg-"))

    def as_pipeline(copy: str) -> dict[str, list[dict[str, Any]]]:
        return {t: [dict(r, pipeline_id=copy) for r in rs] for t, rs in rows.items()}

    with provide_postgres(pg_state, prefer="local") as info:
        exporter = PostgresExporter(
            info.connect, schema="bench_metrics", dead_letter_dir=pg_state.root / "dl"
        )
        exporter.ensure_schema()

        def export_all() -> None:
            reports = []
            started = time.perf_counter()
            reports.append(
                exporter.export(
                    pid,
                    lambda seq: {t: [r for r in rs if int(r["update_seq"]) > seq] for t, rs in rows.items()},
                )
            )
            figures["export_one_pipeline_s"] = time.perf_counter() - started
            copied = [as_pipeline(f"{pid}-copy{i}") for i in range(copies)]
            started = time.perf_counter()
            for i, data in enumerate(copied):
                reports.append(exporter.export(f"{pid}-copy{i}", lambda seq, d=data: d))
            figures["export_copies_s"] = time.perf_counter() - started
            assert all(r.ok for r in reports), [r.error for r in reports]
            written = [sum(r.inserted.values()) + sum(r.updated.values()) for r in reports]
            figures["rows_written_one_pipeline"] = written[0]
            figures["rows_written_copies"] = sum(written[1:])
            # every copy is a new pipeline id: all its rows are new inserts, as many as the original's
            assert written[1:] == [written[0]] * copies, written
            assert sum(reports[1].updated.values()) == 0

        try:
            benchmark.pedantic(export_all, rounds=1, iterations=1)
        finally:
            exporter.close()
    shutil.rmtree(pg_state.root, ignore_errors=True)
    figures["metric_rows_per_pipeline"] = n_rows
    figures["copies"] = copies
    figures["rows_per_s_one_pipeline"] = (
        figures["rows_written_one_pipeline"] / figures["export_one_pipeline_s"]
    )
    figures["rows_per_s_copies"] = figures["rows_written_copies"] / figures["export_copies_s"]
    assert figures["rows_written_one_pipeline"] > 0
    benchmark.extra_info.update(figures)
    results.add(
        "export",
        Section(
            "Metrics export into PostgreSQL (local server, PostgresExporter)",
            figures=figures,
            rows=[{"table": t, "rows_per_pipeline": len(rs)} for t, rs in rows.items()],
            notes=[
                "Rows are the staged metrics of the incremental run's updates (pipeline_updates, flow_metrics, "
                "quality_metrics, lineage_edges, sla_status). The copies export the same rows under other "
                "pipeline ids, so every row is a new insert (a bigger sample than one pipeline's few hundred rows).",
                "Export time includes the watermark read and one transaction per batch of "
                "20 updates (export.batch_updates), as in production.",
            ],
        ),
    )
