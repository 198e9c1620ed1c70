"""RUNNING: the update's flows on a thread pool, in the order `FlowScheduler` decides.

Each flow runs in a copy of the caller's context (the evaluation frame and the profile scope are
context variables) and in its own profile scope, so its Spark jobs are counted per flow. Each state
change is a flow_progress event; the event log is written in the background while flows run.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from harness.errors import HarnessError
from harness.graph.model import PipelineGraph, ResolvedFlow
from harness.runtime.expectations import null_passes
from harness.runtime.flows import FlowExecutor
from harness.runtime.refresh import RefreshPlan
from harness.runtime.resolver import ExecutionResolver
from harness.runtime.results import FlowResult
from harness.runtime.scheduler import FlowScheduler


def run_flows(ctx: Any, graph: PipelineGraph, refresh: RefreshPlan) -> None:
    """Run the planned flows (``ctx``: UpdateContext); each flow's result lands in ``ctx.flow_results``."""
    spark = ctx.rt.spark
    resolver = ExecutionResolver(spark, graph, ctx.rt.names, ctx, null_passes(spark))
    executor = FlowExecutor(
        spark, graph, resolver, ctx.rt.store, ctx.rt.checkpoints_root, resolver.null_passes
    )
    results: dict[str, FlowResult] = ctx.flow_results
    order = graph.executable_flows()
    selected = [f for f in order if graph.flows[f].target in refresh.run]
    for name in order:
        status = "QUEUED" if name in selected else "EXCLUDED"
        results[name] = FlowResult(name, _dataset(graph, name), status=status)
        ctx.flow_event(name, results[name].target, status)
    limit = max(1, ctx.rt.max_concurrent_flows)
    scheduler = FlowScheduler(
        selected,
        {name: graph.flow_dag.ancestors(name) for name in selected},
        done=set(graph.flows) - set(selected),  # excluded flows and views count as done
        max_concurrent=limit,
    )
    running: dict[Future[FlowResult], str] = {}
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="dlt-flow") as pool:
        while not scheduler.idle:
            start, skip = scheduler.step()
            for name in skip:
                results[name] = FlowResult(name, _dataset(graph, name), status="SKIPPED")
                message = f'Flow "{name}" is SKIPPED because an upstream flow failed.'
                ctx.flow_event(name, results[name].target, "SKIPPED", message=message)
            for name in start:
                ctx.flow_event(name, results[name].target, "STARTING")
                ctx.flow_event(name, results[name].target, "RUNNING")
                context = contextvars.copy_context()
                running[pool.submit(context.run, _run_one, ctx, executor, graph.flows[name])] = name
            if not running:
                if scheduler.idle:
                    break
                raise HarnessError(f"flows cannot be scheduled: {', '.join(scheduler.pending)}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                result = future.result()
                results[name] = result
                _finish(ctx, result)
                scheduler.finish(name, failed=result.status == "FAILED")
            ctx.events.flush_soon()
    for view_flow, counts in executor.view_results.items():
        ctx.flow_event(
            view_flow,
            _dataset(graph, view_flow),
            "COMPLETED",
            {
                "metrics": {"num_output_rows": counts.input_rows - counts.dropped},
                "data_quality": counts.data_quality(),
            },
        )


def _dataset(graph: PipelineGraph, flow: str) -> str:
    return graph.datasets[graph.flows[flow].target].name


def _run_one(ctx: Any, executor: FlowExecutor, flow: ResolvedFlow) -> FlowResult:
    with ctx.profile.flow(flow.name):
        return executor.run(flow)


def _finish(ctx: Any, result: FlowResult) -> None:
    extra: dict[str, Any] = {}
    if result.status == "COMPLETED":
        extra["metrics"] = result.metrics()
        quality = result.data_quality()
        if quality is not None:
            extra["data_quality"] = quality
        extra["num_batches"] = result.num_batches
        extra.update(result.stream_details())  # output mode of a streaming flow (docs/semantics.md §9)
        extra["duration_ms"] = int(result.duration_s * 1000)
    error = result.exception
    message = f'Flow "{result.name}" has FAILED: {result.error}' if result.status == "FAILED" else None
    ctx.flow_event(result.name, result.target, result.status, extra, error=error, message=message)


__all__ = ["run_flows"]
