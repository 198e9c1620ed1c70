"""`LocalPipeline`: the Python API to run an unchanged DLT pipeline locally.

    pipeline = LocalPipeline("pipeline/", "pipeline/settings/dev.json", state=".harness")
    result = pipeline.run()                       # one triggered update
    result.status, result.rows_written()          # "COMPLETED", {"bronze_orders": 1000, ...}
    pipeline.event_log().where("event_type = 'flow_progress'")
    pipeline.table("silver_orders")               # any published table, by its pipeline name

Tests share one SparkSession (pass `spark=`); the CLI creates one from the state directory.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import UnknownDatasetError
from harness.runtime.refresh import RefreshRequest
from harness.runtime.results import UpdateResult
from harness.runtime.tables import delta_table_exists
from harness.runtime.update import PipelineRuntime, UpdateRunner
from harness.settings.model import PipelineSettings, load_settings, parse_settings
from harness.state import StateLayout

MAX_FLOWS_ENV = "HARNESS_MAX_CONCURRENT_FLOWS"


class LocalPipeline:
    """One DLT pipeline (source folder + Databricks settings) bound to a local state directory."""

    def __init__(
        self,
        pipeline_root: str | os.PathLike[str],
        settings: str | os.PathLike[str] | PipelineSettings | Mapping[str, Any],
        state: str | os.PathLike[str] | StateLayout | None = None,
        *,
        spark: Any = None,
        master: str | None = None,
        max_concurrent_flows: int | None = None,
        clock: Callable[[], datetime] | None = None,
        listeners: Iterable[Callable[[dict[str, Any]], None]] = (),
    ) -> None:
        self.pipeline_root = Path(pipeline_root).resolve()
        if isinstance(settings, PipelineSettings):
            self.settings = settings
        elif isinstance(settings, Mapping):
            self.settings = parse_settings(settings)
        else:
            self.settings = load_settings(settings)
        self.layout = state if isinstance(state, StateLayout) else StateLayout.at(state)
        if spark is None:
            from harness.spark import create_session

            spark = create_session(self.layout, master=master)
        self.spark = spark
        self.runtime = PipelineRuntime(
            spark=spark,
            settings=self.settings,
            layout=self.layout,
            pipeline_root=self.pipeline_root,
            max_concurrent_flows=max_concurrent_flows or int(os.environ.get(MAX_FLOWS_ENV, "3")),
            clock=clock or (lambda: datetime.now(UTC)),
            listeners=list(listeners),
        )

    # --- updates ------------------------------------------------------------------------------
    def run(
        self,
        *,
        full_refresh: bool = False,
        refresh: Iterable[str] = (),
        full_refresh_selection: Iterable[str] = (),
        retry_on_schema_change: bool = True,
        update_id: str | None = None,
    ) -> UpdateResult:
        """Run one triggered update; returns its status, per-flow counts and the event log.

        When Auto Loader stops a flow because new columns appeared (schemaEvolutionMode
        addNewColumns), the update is retried once, as a Databricks pipeline restarts the flow.
        """
        request = RefreshRequest(bool(full_refresh), tuple(refresh), tuple(full_refresh_selection))
        result = UpdateRunner(self.runtime, request, update_id).run()
        if retry_on_schema_change and UpdateRunner.schema_change_pending(result):
            retry_request = RefreshRequest(False, request.refresh_selection, ())
            result = UpdateRunner(self.runtime, retry_request).run()
        return dataclasses.replace(result, event_log_reader=self.event_log)

    def validate(self) -> Any:
        """Load the sources and resolve the graph without running anything; returns the `PipelineGraph`."""
        return UpdateRunner(self.runtime, RefreshRequest()).validate()

    # --- reading results ----------------------------------------------------------------------
    def event_log(self) -> Any:
        """The pipeline's event log (all updates) as a DataFrame with Databricks' columns."""
        path = self.runtime.event_log_path
        if not delta_table_exists(path):
            from harness.runtime.event_log import EVENT_LOG_DDL

            return self.spark.createDataFrame([], EVENT_LOG_DDL)
        return self.spark.read.format("delta").load(path)

    def table_path(self, name: str) -> str:
        key = self.runtime.names.internal_key(name)
        database, table = self.runtime.names.local_table(name)
        if key is not None:
            database, table = self.runtime.names.database, key
        path = self.runtime.store.tables_root / database / table
        if not delta_table_exists(path):
            raise UnknownDatasetError(name, "LocalPipeline.table", [])
        return str(path)

    def table(self, name: str) -> Any:
        """A table of this pipeline (published or private) as a DataFrame."""
        return self.spark.read.format("delta").load(self.table_path(name))

    def sql(self, query: str) -> Any:
        """Run SQL over the pipeline's tables (`catalog.schema.t`, `LIVE.t` and bare names) and `event_log`."""
        self.spark.sql(f"USE {self.runtime.names.database}") if self.spark.catalog.databaseExists(
            self.runtime.names.database
        ) else None
        self.event_log().createOrReplaceTempView("event_log")
        return self.spark.sql(self.runtime.names.rewrite_sql(query))

    def volume_path(self, path: str) -> Path:
        """The local directory that stands for a /Volumes/... path."""
        return self.runtime.volumes.to_local(path)
