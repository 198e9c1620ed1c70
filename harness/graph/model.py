"""The resolved dataflow graph: every dataset with its final kind, location and schema; every flow
with its mode and inputs; and a DAG over the flows that the runner schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.graph.dag import DAG
from harness.runtime.tables import TableLocation
from harness.shim.records import AnyFlow, DatasetDef, DatasetKind


@dataclass
class ResolvedDataset:
    key: str
    definition: DatasetDef
    kind: DatasetKind  # STREAMING_TABLE, MATERIALIZED_VIEW, VIEW or SINK (never TABLE)
    location: TableLocation | None  # None for views; sinks with a path/table get one
    schema: Any = None  # StructType
    flows: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def is_table(self) -> bool:
        return self.kind in (DatasetKind.STREAMING_TABLE, DatasetKind.MATERIALIZED_VIEW)


@dataclass
class ResolvedFlow:
    name: str
    definition: AnyFlow
    target: str  # dataset key
    mode: str  # "batch" | "stream" | "once" | "cdc" | "snapshot" | "view"
    reads: set[str] = field(default_factory=set)  # dataset keys read directly
    schema: Any = None

    @property
    def location(self) -> str:
        return str(self.definition.location)


@dataclass
class PipelineGraph:
    datasets: dict[str, ResolvedDataset]
    flows: dict[str, ResolvedFlow]
    flow_dag: DAG
    warnings: list[str] = field(default_factory=list)

    def executable_flows(self) -> list[str]:
        """Flows the runner executes (views are evaluated inside their readers), in DAG order."""
        return [name for name in self.flow_dag.topological_order() if self.flows[name].mode != "view"]

    def table_inputs(self, flow: str, seen: set[str] | None = None) -> set[str]:
        """Dataset keys a flow depends on, with views expanded to what they read."""
        seen = seen if seen is not None else set()
        result: set[str] = set()
        for key in self.flows[flow].reads:
            if key in seen:
                continue
            seen.add(key)
            dataset = self.datasets[key]
            if dataset.kind is DatasetKind.VIEW:
                for view_flow in dataset.flows:
                    result |= self.table_inputs(view_flow, seen)
            else:
                result.add(key)
        return result

    def lineage(self) -> list[tuple[str, str]]:
        """(input dataset, output dataset) edges, views included, for lineage events and metrics."""
        edges = set()
        for flow in self.flows.values():
            for key in flow.reads:
                edges.add((self.datasets[key].name, self.datasets[flow.target].name))
            source = getattr(flow.definition, "source", None)
            if isinstance(source, str) and flow.mode in ("cdc", "snapshot"):
                edges.add((source, self.datasets[flow.target].name))
        return sorted(edges)
