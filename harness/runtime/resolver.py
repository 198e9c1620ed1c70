"""Reads during execution: pipeline datasets resolve to their Delta tables, views to their queries.

A view is never materialized: reading it evaluates its function inside the reader's plan, with the
view's expectations applied there (drop filters, fail checks) and counted with an observation
(an `Observation` for batch readers; a named observation reported in the streaming query's
progress for streaming readers). The flow executor collects those counts after its query ends and
reports them for the view.
"""

from __future__ import annotations

import itertools
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UnknownDatasetError
from harness.graph.model import PipelineGraph, ResolvedDataset
from harness.graph.names import PipelineNames
from harness.runtime.context import EvaluationFrame, SourceRef, UpdateServices, current_frame, evaluating
from harness.runtime.expectations import ExpectationAction, fail_check_sql, keep_sql, observation_sql
from harness.runtime.interception import original_method
from harness.shim.records import DatasetKind, Expectation

_executing_flow: ContextVar[str | None] = ContextVar("harness_executing_flow", default=None)
_counter = itertools.count()


@dataclass
class ViewObservation:
    view: str  # view dataset name
    view_flow: str
    rules: tuple[Expectation, ...]
    streaming_name: str | None = None  # named observation (streaming readers)
    observation: Any = None  # pyspark Observation (batch readers)


@dataclass
class ExecutionResolver:
    spark: Any
    graph: PipelineGraph
    names: PipelineNames
    services: UpdateServices
    null_passes: bool = False
    views_read: dict[str, list[ViewObservation]] = field(default_factory=dict)
    _cloud_files_count: dict[str, int] = field(default_factory=dict)

    def executing(self, flow: str) -> Any:
        """Context manager marking which flow's plan is being built (view metrics are filed under it)."""
        from contextlib import contextmanager

        @contextmanager
        def scope() -> Any:
            token = _executing_flow.set(flow)
            self._cloud_files_count[flow] = 0
            try:
                yield
            finally:
                _executing_flow.reset(token)

        return scope()

    # --- Resolver protocol --------------------------------------------------------------------
    def read(self, name: str, streaming: bool, reader: Any = None) -> Any:
        key = self.names.internal_key(name)
        if key is not None and key in self.graph.datasets:
            dataset = self.graph.datasets[key]
            if dataset.kind is DatasetKind.VIEW:
                return self._view(dataset, streaming)
            return self.read_table(dataset, streaming, reader)
        database, table = self.names.local_table(name)
        if not self.spark.catalog.tableExists(f"{database}.{table}"):
            frame = current_frame()
            raise UnknownDatasetError(name, frame.flow if frame else "<module>", [])
        base = reader if reader is not None else (self.spark.readStream if streaming else self.spark.read)
        return original_method(type(base), "table")(base, f"{database}.{table}")

    def read_table(self, dataset: ResolvedDataset, streaming: bool, reader: Any = None) -> Any:
        assert dataset.location is not None
        base = reader if reader is not None else (self.spark.readStream if streaming else self.spark.read)
        return base.format("delta").load(dataset.location.path)

    def cloud_files(self, path: str, options: dict[str, str], schema: Any) -> Any:
        flow = _executing_flow.get() or "<module>"
        index = self._cloud_files_count.get(flow, 0)
        self._cloud_files_count[flow] = index + 1
        return self.services.cloud_files(path, options, schema, SourceRef(flow, index))

    def map_path(self, path: str) -> str:
        return self.services.map_path(path)

    def rewrite_sql(self, query: str) -> str:
        """Bind the pipeline datasets a SQL text names (views and private tables are not in the metastore)."""
        from harness.graph.builder import sql_view_name

        bindings: dict[str, str] = {}
        for key in self.names.sql_references(query, self.graph.datasets):
            bindings[key] = sql_view_name(key)
            self.read(key, streaming=False).createOrReplaceTempView(bindings[key])
        return self.names.bind_sql(query, bindings)

    # --- views --------------------------------------------------------------------------------
    def _view(self, dataset: ResolvedDataset, streaming: bool) -> Any:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        flow = self.graph.flows[dataset.flows[0]]
        definition = flow.definition
        frame = EvaluationFrame(dataset.name, flow.name, flow.location)
        with evaluating(frame):
            df = definition.func()
        rules = tuple(getattr(definition, "expectations", ()))
        if not rules:
            return df
        consumer = _executing_flow.get() or "<module>"
        record = ViewObservation(dataset.name, flow.name, rules)
        metrics = [F.expr(sql).alias(alias) for alias, sql in observation_sql(rules, self.null_passes)]
        if df.isStreaming:
            record.streaming_name = f"view_{flow.name}_{next(_counter)}"
            df = df.observe(record.streaming_name, *metrics)
        else:
            record.observation = Observation(f"view_{flow.name}_{next(_counter)}")
            df = df.observe(record.observation, *metrics)
        fails = [r for r in rules if r.action is ExpectationAction.FAIL]
        if fails:
            df = df.where(F.expr(fail_check_sql(fails, flow.name, self.null_passes)))
        drops = [r for r in rules if r.action is ExpectationAction.DROP]
        if drops:
            df = df.where(F.expr(keep_sql(drops, self.null_passes)))
        self.views_read.setdefault(consumer, []).append(record)
        return df
