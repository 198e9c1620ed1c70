"""Capture `from pyspark import pipelines as dp` modules through pyspark's own registration hook.

OSS `pyspark.pipelines` decorators hand `Output` and `Flow` objects to the registry set by
`graph_element_registration_context`; we enter that context with `HarnessGraphElementRegistry`,
which converts them into harness records — nothing in pyspark is patched. The Databricks-only
names OSS lacks (expectations, AUTO CDC, foreach_batch_sink, on_event_hook) are *added* to the
`pyspark.pipelines` module while a pipeline loads, and removed afterwards.

As on Databricks, `@dp.table` decides streaming table vs materialized view from the query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.shim import declare
from harness.shim.records import DatasetDef, DatasetKind, FlowDef, SourceLocation
from harness.shim.registry import PipelineRegistry

#: Names Databricks' `pyspark.pipelines` has and the open-source module lacks.
DATABRICKS_ONLY_NAMES: tuple[str, ...] = (
    "expect",
    "expect_or_drop",
    "expect_or_fail",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "create_auto_cdc_flow",
    "create_auto_cdc_from_snapshot_flow",
    "foreach_batch_sink",
    "on_event_hook",
)


def _location(source_code_location: Any) -> SourceLocation:
    return SourceLocation(
        getattr(source_code_location, "filename", "<unknown>"),
        getattr(source_code_location, "line_number", None),
    )


def _make_registry_class() -> type:
    from pyspark.pipelines import output as oss
    from pyspark.pipelines.graph_element_registry import GraphElementRegistry

    class HarnessGraphElementRegistry(GraphElementRegistry):
        """Receives OSS `Output`/`Flow` objects and records them in a harness `PipelineRegistry`."""

        def __init__(self, registry: PipelineRegistry) -> None:
            self._registry = registry
            self._last_output: str | None = None

        def register_output(self, output: Any) -> None:
            location = _location(output.source_code_location)
            common = {"name": output.name, "location": location, "comment": output.comment}
            if isinstance(output, oss.Sink):
                dataset = DatasetDef(
                    kind=DatasetKind.SINK,
                    api="dp.create_sink",
                    sink_format=str(output.format).lower(),
                    sink_options=dict(output.options or {}),
                    **common,
                )
            elif isinstance(output, oss.TemporaryView):
                dataset = DatasetDef(kind=DatasetKind.VIEW, api="dp.temporary_view", **common)
            else:
                kind = (
                    DatasetKind.MATERIALIZED_VIEW
                    if isinstance(output, oss.MaterializedView)
                    else DatasetKind.STREAMING_TABLE
                )
                dataset = DatasetDef(
                    kind=kind,
                    api="dp.materialized_view"
                    if kind is DatasetKind.MATERIALIZED_VIEW
                    else "dp.create_streaming_table",
                    table_properties=dict(output.table_properties or {}),
                    partition_cols=tuple(output.partition_cols or ()),
                    cluster_by=tuple(output.cluster_by or ()),
                    schema=output.schema,
                    format=output.format,
                    **common,
                )
            self._registry.add_dataset(dataset)
            self._last_output = output.name

        def register_flow(self, flow: Any) -> None:
            is_default = flow.name == flow.target and self._last_output == flow.target
            self._last_output = None
            dataset = self._registry.datasets.get(flow.target)
            if is_default and dataset is not None and dataset.kind is DatasetKind.STREAMING_TABLE:
                # @dp.table: Databricks decides streaming table vs materialized view from the query.
                self._registry.datasets[flow.target] = dataclasses.replace(
                    dataset, kind=DatasetKind.TABLE, api="dp.table"
                )
            self._registry.add_flow(
                FlowDef(
                    name=flow.name,
                    target=flow.target,
                    func=flow.func,
                    location=_location(flow.source_code_location),
                    is_default=is_default,
                    spark_conf=dict(flow.spark_conf or {}),
                    expectations=declare.attached_expectations(flow.func, flow.target),
                )
            )

        def register_sql(self, sql_text: str, file_path: Path) -> None:
            from pyspark.sql import SparkSession

            from harness.sql.register import load_sql_text

            spark = SparkSession.getActiveSession()
            conf = (
                dict(spark.conf.getAll) if spark is not None else {}
            )  # the pipeline configuration is applied
            load_sql_text(sql_text, str(file_path), self._registry, conf, None, "default")

    return HarnessGraphElementRegistry


def pipelines_available() -> bool:
    try:
        import pyspark.pipelines.graph_element_registry  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def dp_capture(registry: PipelineRegistry) -> Iterator[None]:
    """Route `pyspark.pipelines` declarations into `registry` and add the Databricks-only names."""
    if not pipelines_available():
        yield
        return
    import pyspark.pipelines as dp
    from pyspark.pipelines.graph_element_registry import graph_element_registration_context

    from harness.shim import dlt_api

    added = [name for name in DATABRICKS_ONLY_NAMES if not hasattr(dp, name)]
    for name in added:
        setattr(dp, name, getattr(dlt_api, name))
    try:
        with graph_element_registration_context(_make_registry_class()(registry)):
            yield
    finally:
        for name in added:
            delattr(dp, name)
