"""The dataset_definition and flow_definition events of an update (payloads in Databricks' shape).

Pure functions of the analysed graph, so their shape is tested without running an update.
"""

from __future__ import annotations

from typing import Any

from harness.graph.model import PipelineGraph, ResolvedDataset, ResolvedFlow

#: flow_definition.flow_type per harness flow mode
FLOW_TYPES = {
    "batch": "COMPLETE",
    "stream": "INCREMENTAL",
    "once": "ONCE",
    "cdc": "APPLY_CHANGES",
    "snapshot": "APPLY_CHANGES_FROM_SNAPSHOT",
    "view": "VIEW",
}


def _expectations(expectations: Any) -> list[dict[str, Any]]:
    return [
        {"name": e.name, "constraint": e.constraint, "action": e.action.value.upper()} for e in expectations
    ]


def _schema(schema: Any) -> list[dict[str, str]]:
    return [
        {"name": f.name, "data_type": f.dataType.simpleString()} for f in (schema.fields if schema else [])
    ]


def dataset_definition(dataset: ResolvedDataset) -> dict[str, Any]:
    definition = dataset.definition
    return {
        "dataset_name": dataset.name,
        "dataset_type": dataset.kind.name,
        "published": bool(dataset.location and dataset.location.published),
        "storage_location": dataset.location.path if dataset.location else None,
        "num_flows": len(dataset.flows),
        "comment": definition.comment,
        "table_properties": dict(definition.table_properties),
        "partition_columns": list(definition.partition_cols),
        "clustering_columns": list(definition.cluster_by),
        "expectations": _expectations(definition.expectations),
        "schema": _schema(dataset.schema),
        "source_code_location": str(definition.location),
    }


def flow_definition(graph: PipelineGraph, flow: ResolvedFlow) -> dict[str, Any]:
    definition = flow.definition
    return {
        "output_dataset": graph.datasets[flow.target].name,
        "input_datasets": sorted(graph.datasets[k].name for k in flow.reads),
        "flow_type": FLOW_TYPES.get(flow.mode, flow.mode.upper()),
        "expectations": _expectations(getattr(definition, "expectations", ())),
        "schema": _schema(flow.schema),
        "source_code_location": flow.location,
        "once": bool(getattr(definition, "once", False)),
    }


def emit_definitions(ctx: Any, graph: PipelineGraph) -> None:
    """One dataset_definition per dataset, then one flow_definition per flow (``ctx``: UpdateContext)."""
    for dataset in graph.datasets.values():
        ctx.events.emit(
            "dataset_definition",
            f"Dataset {dataset.name!r} defined as {dataset.kind.name}.",
            dataset_definition(dataset),
            origin=ctx.origin(dataset_name=dataset.name),
        )
    for flow in graph.flows.values():
        details = flow_definition(graph, flow)
        ctx.events.emit(
            "flow_definition",
            f"Flow {flow.name!r} defined as {details['flow_type']}.",
            details,
            origin=ctx.origin(
                flow_name=flow.name,
                dataset_name=graph.datasets[flow.target].name,
                flow_id=ctx.flow_id(flow.name),
            ),
        )


__all__ = ["FLOW_TYPES", "dataset_definition", "emit_definitions", "flow_definition"]
