"""Resolve declarations into a validated graph by evaluating each flow's query once ("analysis").

Dependencies are discovered the way Databricks discovers them: by evaluating dataset functions
and recording which datasets they read (dlt.read / read_stream, spark.read.table, spark.table,
spark.readStream.table, LIVE. names in spark.sql). When a function reads a dataset that has not
been analysed yet, that dataset is analysed first (depth first), so a cycle is found with its path.
Reads during analysis return placeholders with the upstream's schema (an empty relation, or a
never-started stream), so analysis has no side effects and works before any table exists.
"""

from __future__ import annotations

import difflib
import itertools
from typing import Any

from harness.errors import (
    CircularDependencyError,
    DefinitionError,
    InvalidFlowQueryTypeError,
    InvalidQueryResultError,
    UnknownDatasetError,
)
from harness.graph.dag import DAG
from harness.graph.model import PipelineGraph, ResolvedDataset, ResolvedFlow
from harness.graph.names import PipelineNames
from harness.runtime.context import (
    EvaluationFrame,
    SourceRef,
    UpdateServices,
    current_frame,
    evaluating,
    resolving_with,
)
from harness.runtime.interception import original_method
from harness.shim.records import CdcFlowDef, DatasetKind, FlowDef, SnapshotCdcFlowDef
from harness.shim.registry import PipelineRegistry

_sql_views = itertools.count()


def sql_view_name(key: str) -> str:
    """A fresh session-unique temporary view name standing for a dataset inside one SQL text."""
    return f"__harness_sql_{key}_{next(_sql_views)}"


def is_dataframe(value: Any) -> bool:
    try:
        from pyspark.sql import DataFrame
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, DataFrame)


def parse_schema(spark: Any, schema: Any) -> Any:
    if schema is None:
        return None
    if isinstance(schema, str):
        from pyspark.sql.types import StructType

        return StructType.fromDDL(schema)
    return schema


def merge_schemas(schemas: list[Any]) -> Any:
    """Union by column name, first occurrence wins (streaming tables merge their flows' schemas)."""
    from pyspark.sql.types import StructType

    merged = StructType()
    names: set[str] = set()
    for schema in schemas:
        if schema is None:
            continue
        for field in schema.fields:
            if field.name.lower() not in names:
                merged = merged.add(field)
                names.add(field.name.lower())
    return merged if names else None


class GraphBuilder:
    """Analyse a registry into a `PipelineGraph` (implements the runtime's Resolver protocol)."""

    def __init__(
        self,
        spark: Any,
        registry: PipelineRegistry,
        names: PipelineNames,
        services: UpdateServices,
    ) -> None:
        self.spark = spark
        self.registry = registry
        self.names = names
        self.services = services
        self.datasets: dict[str, ResolvedDataset] = {}
        self.flows: dict[str, ResolvedFlow] = {}
        self._analysed_df: dict[str, Any] = {}  # view flow -> DataFrame
        self._visiting: list[str] = []
        self._by_key = {name.lower(): d for name, d in registry.datasets.items()}
        self._flows_of: dict[str, list[Any]] = {}
        self._cloud_files_count: dict[str, int] = {}
        for flow in registry.flows.values():
            self._flows_of.setdefault(self._target_key(flow.target, flow), []).append(flow)

    # --- helpers ------------------------------------------------------------------------------
    def _target_key(self, name: str, flow: Any) -> str:
        key = self.names.internal_key(name)
        if key is None or key not in {n.lower() for n in self.registry.datasets}:
            raise UnknownDatasetError(name, flow.name, self._suggest(name))
        return key

    def _suggest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name.split(".")[-1].lower(), list(self._by_key), n=3, cutoff=0.6)

    # --- Resolver protocol (analysis mode) ------------------------------------------------------
    def read(self, name: str, streaming: bool, reader: Any = None) -> Any:
        frame = current_frame()
        referenced_by = frame.flow if frame else "<module>"
        key = self.names.internal_key(name)
        if key is not None and key in self._by_key:
            if frame is not None and frame.flow in self.flows:
                self.flows[frame.flow].reads.add(key)
            self._analyse_dataset(key)
            return self._placeholder(self.datasets[key], streaming)
        database, table = self.names.local_table(name)
        if self.spark.catalog.tableExists(f"{database}.{table}"):
            if streaming:
                base = reader if reader is not None else self.spark.readStream
                return original_method(type(base), "table")(base, f"{database}.{table}")
            base = reader if reader is not None else self.spark.read
            return original_method(type(base), "table")(base, f"{database}.{table}")
        raise UnknownDatasetError(name, referenced_by, self._suggest(name))

    def cloud_files(self, path: str, options: dict[str, str], schema: Any) -> Any:
        frame = current_frame()
        flow = frame.flow if frame else "<module>"
        index = self._cloud_files_count.get(flow, 0)
        self._cloud_files_count[flow] = index + 1
        return self.services.cloud_files(path, options, schema, SourceRef(flow, index))

    def map_path(self, path: str) -> str:
        return self.services.map_path(path)

    def rewrite_sql(self, query: str) -> str:
        """Record the datasets a SQL text reads and bind them to placeholders (no table exists yet)."""
        frame = current_frame()
        bindings: dict[str, str] = {}
        for key in self.names.sql_references(query, self._by_key):
            if frame is not None and frame.flow in self.flows:
                self.flows[frame.flow].reads.add(key)
            self._analyse_dataset(key)
            bindings[key] = sql_view_name(key)
            self._placeholder(self.datasets[key], streaming=False).createOrReplaceTempView(bindings[key])
        return self.names.bind_sql(query, bindings)

    # --- analysis -----------------------------------------------------------------------------
    def _placeholder(self, dataset: ResolvedDataset, streaming: bool) -> Any:
        if dataset.kind is DatasetKind.VIEW:
            return self._analysed_df[dataset.flows[0]]
        schema = dataset.schema
        if schema is None:
            raise DefinitionError(
                dataset.name,
                str(dataset.definition.location),
                "its schema cannot be known before it runs (a snapshot-function AUTO CDC target): declare schema=",
            )
        if not streaming:
            return self.spark.createDataFrame([], schema)
        from pyspark.sql import functions as F

        stream = self.spark.readStream.format("rate").load()
        return stream.select(*[F.lit(None).cast(f.dataType).alias(f.name) for f in schema.fields])

    def _analyse_dataset(self, key: str) -> None:
        if key in self.datasets and key not in self._visiting:
            return
        if key in self._visiting:
            cycle = [*self._visiting[self._visiting.index(key) :], key]
            raise CircularDependencyError([self._by_key[k].name for k in cycle])
        self._visiting.append(key)
        try:
            definition = self._by_key[key]
            dataset = ResolvedDataset(key, definition, definition.kind, None)
            self.datasets[key] = dataset
            flows = self._flows_of.get(key, [])
            schemas = [self._analyse_flow(flow, dataset) for flow in flows]
            dataset.flows = [f.name for f in flows]
            self._resolve_kind(dataset)
            declared = parse_schema(self.spark, definition.schema)
            if dataset.kind is DatasetKind.VIEW:
                dataset.schema = schemas[0] if schemas else None
            else:
                dataset.schema = declared or merge_schemas(schemas) or self.services.existing_schema(dataset)
            if dataset.kind is not DatasetKind.VIEW:
                dataset.location = self.services.locate(key, dataset)
        finally:
            self._visiting.pop()

    def _analyse_flow(self, flow: Any, dataset: ResolvedDataset) -> Any:
        if isinstance(flow, CdcFlowDef):
            resolved = ResolvedFlow(flow.name, flow, dataset.key, "cdc")
            self.flows[flow.name] = resolved
            source_key = self._target_key(flow.source, flow)
            resolved.reads.add(source_key)
            self._analyse_dataset(source_key)
            resolved.schema = self.services.cdc_schema(self.datasets[source_key].schema, flow)
            return resolved.schema
        if isinstance(flow, SnapshotCdcFlowDef):
            resolved = ResolvedFlow(flow.name, flow, dataset.key, "snapshot")
            self.flows[flow.name] = resolved
            if flow.source is not None:
                source_key = self._target_key(flow.source, flow)
                resolved.reads.add(source_key)
                self._analyse_dataset(source_key)
                resolved.schema = self._snapshot_schema(self.datasets[source_key].schema, flow)
            return resolved.schema
        assert isinstance(flow, FlowDef)
        resolved = ResolvedFlow(flow.name, flow, dataset.key, "pending")
        self.flows[flow.name] = resolved
        frame = EvaluationFrame(dataset.definition.name, flow.name, str(flow.location))
        with resolving_with(self), evaluating(frame):
            df = flow.func()
        if not is_dataframe(df):
            raise InvalidQueryResultError(
                flow.name, type(df).__name__ if df is not None else "None", str(flow.location)
            )
        streaming = bool(df.isStreaming)
        if dataset.definition.kind is DatasetKind.VIEW:
            resolved.mode = "view"
            self._analysed_df[flow.name] = df
        elif flow.once:
            resolved.mode = "once"
            if streaming:
                raise InvalidFlowQueryTypeError(
                    flow.name, dataset.name, "batch", "streaming", str(flow.location)
                )
        else:
            resolved.mode = "stream" if streaming else "batch"
        resolved.schema = df.schema
        return df.schema

    def _snapshot_schema(self, source_schema: Any, flow: SnapshotCdcFlowDef) -> Any:
        if source_schema is None or flow.stored_as_scd_type != 2:
            return source_schema
        from pyspark.sql.types import LongType, StructField

        extra = [StructField("__START_AT", LongType()), StructField("__END_AT", LongType())]
        return source_schema.__class__(list(source_schema.fields) + extra)

    def _resolve_kind(self, dataset: ResolvedDataset) -> None:
        definition = dataset.definition
        flows = [self.flows[name] for name in dataset.flows]
        kind = definition.kind
        if kind is DatasetKind.TABLE:
            default = next((f for f in flows if getattr(f.definition, "is_default", False)), None)
            kind = (
                DatasetKind.MATERIALIZED_VIEW
                if default is not None and default.mode == "batch"
                else DatasetKind.STREAMING_TABLE
            )
            if kind is DatasetKind.MATERIALIZED_VIEW and len(flows) > 1:
                extra = next(f for f in flows if f is not default)
                raise InvalidFlowQueryTypeError(
                    extra.name, definition.name, "streaming", "batch-defined table's extra", extra.location
                )
        dataset.kind = kind
        for flow in flows:
            if kind is DatasetKind.MATERIALIZED_VIEW and flow.mode != "batch":
                raise InvalidFlowQueryTypeError(
                    flow.name, definition.name, "batch", "streaming", flow.location
                )
            if kind is DatasetKind.STREAMING_TABLE and flow.mode == "batch":
                raise InvalidFlowQueryTypeError(
                    flow.name, definition.name, "streaming", "batch", flow.location
                )
            if kind is DatasetKind.SINK and flow.mode not in ("stream",):
                raise InvalidFlowQueryTypeError(
                    flow.name, definition.name, "streaming", "batch", flow.location
                )
        if kind is DatasetKind.STREAMING_TABLE and not flows:
            self.registry.warn(f"streaming table {definition.name!r} has no flows writing to it")
        kinds = {f.mode for f in flows}
        if "snapshot" in kinds and "cdc" in kinds:
            raise DefinitionError(
                definition.name,
                str(definition.location),
                "a table cannot be the target of both AUTO CDC and snapshot AUTO CDC flows",
            )

    # --- entry point --------------------------------------------------------------------------
    def build(self) -> PipelineGraph:
        for flow in self.registry.flows.values():
            self._target_key(flow.target, flow)  # unknown targets fail before anything runs
        for key in sorted(self._by_key):
            self._analyse_dataset(key)
        dag = DAG(self.flows)
        dataset_dag = DAG(self.datasets)
        for flow in self.flows.values():
            for key in flow.reads:
                dataset_dag.add_edge(key, flow.target)
        cycle = dataset_dag.find_cycle()
        if cycle:
            raise CircularDependencyError([self.datasets[k].name for k in cycle])
        graph = PipelineGraph(self.datasets, self.flows, dag, list(self.registry.warnings))
        for flow in self.flows.values():
            for key in graph.table_inputs(flow.name) | {
                r for r in flow.reads if self.datasets[r].kind is DatasetKind.VIEW
            }:
                for writer in self.datasets[key].flows:
                    if writer != flow.name:
                        dag.add_edge(writer, flow.name)
        for dataset in self.datasets.values():  # flows into one table run one after the other
            for first, second in zip(dataset.flows, dataset.flows[1:], strict=False):
                dag.add_edge(first, second)
        cycle = dag.find_cycle()
        if cycle:
            raise CircularDependencyError(cycle)
        return graph
