"""SETTING_UP_TABLES and RESETTING: create missing streaming tables, plan the refresh, reset tables.

Only a reset reads a table's stored properties (`pipelines.reset.allowed`): a default update does
not pay a Delta log read per streaming table for it.
"""

from __future__ import annotations

from typing import Any

from harness.graph.model import PipelineGraph
from harness.runtime.refresh import RefreshPlan, plan_refresh, reset_allowed
from harness.shim.records import DatasetKind
from harness.state import cdc_state_in, flow_checkpoint_in


def create_tables(ctx: Any, graph: PipelineGraph) -> None:
    """Streaming tables exist (empty, with their declared layout) before any flow appends to them."""
    store = ctx.rt.store
    store.ensure_database(ctx.rt.names.database)
    for dataset in graph.datasets.values():
        if (
            dataset.kind is DatasetKind.STREAMING_TABLE
            and dataset.location is not None
            and dataset.schema is not None
        ):
            store.create_if_missing(dataset.location, dataset.schema, dataset.definition)


def plan(ctx: Any, graph: PipelineGraph) -> RefreshPlan:
    request = ctx.request
    tables = [k for k, d in graph.datasets.items() if d.kind is not DatasetKind.VIEW]
    streaming = [k for k, d in graph.datasets.items() if d.kind is DatasetKind.STREAMING_TABLE]
    wanted = {n.lower() for n in request.full_refresh_selection}
    resettable = {
        key: reset_allowed(dict(graph.datasets[key].definition.table_properties))
        and reset_allowed(ctx.rt.store.table_properties(graph.datasets[key].location))
        for key in streaming
        if graph.datasets[key].location is not None and (request.full_refresh or key in wanted)
    }
    return plan_refresh(tables, streaming, resettable, request)


def reset(ctx: Any, graph: PipelineGraph, refresh: RefreshPlan) -> None:
    """Truncate the reset streaming tables and remove their flows' checkpoints and AUTO CDC state."""
    store, root = ctx.rt.store, ctx.rt.checkpoints_root
    for key in sorted(refresh.not_resettable):
        ctx.warn(
            f"Table {graph.datasets[key].name!r} has pipelines.reset.allowed=false: not reset.",
            "RESETTING",
            dataset_name=graph.datasets[key].name,
        )
    for key in sorted(refresh.reset):
        dataset = graph.datasets[key]
        for flow in dataset.flows:
            store.remove_dir(flow_checkpoint_in(root, graph.flows[flow].target, flow))
        store.remove_dir(cdc_state_in(root, key))
        if dataset.location is not None and dataset.schema is not None:
            store.truncate(dataset.location, dataset.schema)
    # sinks' checkpoints reset with a full refresh too, but their data is never cleared
    if ctx.request.full_refresh:
        for dataset in graph.datasets.values():
            if dataset.kind is DatasetKind.SINK:
                for flow in dataset.flows:
                    store.remove_dir(flow_checkpoint_in(root, graph.flows[flow].target, flow))


__all__ = ["create_tables", "plan", "reset"]
