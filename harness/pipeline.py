"""`LocalPipeline`: the Python API to run an unchanged DLT pipeline locally.

    pipeline = LocalPipeline.from_bundle(".", target="dev", state=".harness")   # databricks.yml
    pipeline = LocalPipeline("my_pipeline/", "my_pipeline/settings.json", state=".harness")  # or a JSON
    result = pipeline.run()                       # one triggered update
    result.status, result.rows_written()          # "COMPLETED", {"bronze_orders": 1000, ...}
    pipeline.event_log().where("event_type = 'flow_progress'")
    pipeline.table("silver_orders")               # any published table, by its pipeline name

Tests share one SparkSession (pass `spark=`); the CLI creates one from the state directory.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import EventLogNotFoundError, UnknownDatasetError
from harness.runtime.disk_full import disk_full_error, is_disk_full
from harness.runtime.pipeline_lock import pipeline_lock
from harness.runtime.refresh import RefreshRequest
from harness.runtime.results import UpdateResult
from harness.runtime.scheduler import MAX_FLOWS_ENV, default_max_concurrent_flows
from harness.runtime.tables import delta_table_exists
from harness.runtime.update import PipelineRuntime, UpdateRunner
from harness.settings.model import PipelineSettings, load_settings, parse_settings
from harness.spark.catalog_store import save_catalog
from harness.state import StateLayout

__all__ = ["EVENT_LOG_VIEW", "MAX_FLOWS_ENV", "LocalPipeline"]
#: the temporary view over the pipeline's event log that `sql` registers (Databricks: `event_log(...)`)
EVENT_LOG_VIEW = "event_log"


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
            max_concurrent_flows=max_concurrent_flows or default_max_concurrent_flows(),
            clock=clock or (lambda: datetime.now(UTC)),
            listeners=list(listeners),
        )

    @classmethod
    def from_bundle(
        cls,
        bundle: str | os.PathLike[str] = ".",
        target: str | None = None,
        pipeline: str | None = None,
        variables: Mapping[str, str] | None = None,
        state: str | os.PathLike[str] | StateLayout | None = None,
        **kwargs: Any,
    ) -> LocalPipeline:
        """The pipeline ``pipeline`` of the Databricks Asset Bundle in ``bundle``, resolved for ``target``
        as ``databricks bundle validate`` would (harness/settings/bundle.py); its root is the resolved
        ``root_path`` (the bundle folder when the pipeline has none)."""
        from harness.settings.bundle import bundle_pipeline_settings, find_bundle_file

        settings = bundle_pipeline_settings(bundle, target, pipeline, variables)
        root = settings.root_path or find_bundle_file(bundle).parent
        return cls(root, settings, state, **kwargs)

    # --- updates ------------------------------------------------------------------------------
    def run(
        self,
        *,
        full_refresh: bool = False,
        refresh: Iterable[str] = (),
        full_refresh_selection: Iterable[str] = (),
        retry_on_schema_change: bool = True,
        update_id: str | None = None,
        wait: bool = False,
    ) -> UpdateResult:
        """Run one triggered update; returns its status, per-flow counts and the event log.

        When Auto Loader stops a flow because new columns appeared (schemaEvolutionMode
        addNewColumns), the update is retried once, as a Databricks pipeline restarts the flow.
        Another process updating the same pipeline state makes this raise `PipelineBusyError`
        (or wait for it, with ``wait=True``).
        """
        request = RefreshRequest(bool(full_refresh), tuple(refresh), tuple(full_refresh_selection))
        with self.update_lock(wait=wait) as lock:
            update_id = update_id or str(uuid.uuid4())
            lock.describe(update_id=update_id)
            try:
                result = UpdateRunner(self.runtime, request, update_id).run()
                if retry_on_schema_change and UpdateRunner.schema_change_pending(result):
                    retry_request = RefreshRequest(False, request.refresh_selection, ())
                    retry_id = str(uuid.uuid4())
                    lock.describe(update_id=retry_id)
                    result = UpdateRunner(self.runtime, retry_request, retry_id).run()
            except Exception as exc:
                if is_disk_full(exc):  # even the event log could not be written
                    raise disk_full_error(self.layout.root, str(exc)) from exc
                raise
            finally:
                save_catalog(self.spark)
        full = [e for e in (result.error, *(f.error for f in result.flows.values())) if is_disk_full(e)]
        if not result.succeeded and full:
            error = disk_full_error(self.layout.root, full[0] or "").message
            result = dataclasses.replace(result, error=error, error_class="StateDiskFullError")
        return dataclasses.replace(result, event_log_reader=self.event_log)

    def update_lock(self, *, wait: bool = False, command: str = "run") -> Any:
        """This pipeline's update lock (harness/runtime/pipeline_lock.py): `harness watch` and
        `harness dev` hold it for their whole life, `run` for each update; re-entrant in a process."""
        return pipeline_lock(self.layout, self.settings.name, wait=wait, command=command)

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
        """Run SQL over the pipeline's tables (`catalog.schema.t`, `LIVE.t` and bare names) and its event log.

        Databricks spellings work as written: ``FROM event_log`` / ``event_log('<pipeline id>')`` /
        ``event_log(TABLE(t))`` and JSON paths on string columns (``details:flow_progress.metrics``).
        A query Spark rejects raises `SqlQueryError` (error class, message, position; no JVM trace).
        """
        from pyspark.errors import PySparkException

        from harness.query import sql_error

        if self.spark.catalog.databaseExists(self.runtime.names.database):
            self.spark.sql(f"USE {self.runtime.names.database}")
        self.event_log().createOrReplaceTempView(EVENT_LOG_VIEW)
        try:
            frame = self.spark.sql(self.prepare_sql(query))
        except PySparkException as exc:
            raise sql_error(exc, query) from exc
        save_catalog(self.spark)  # DDL (CREATE TABLE/VIEW, DROP) runs eagerly: keep it for the next process
        return frame

    def prepare_sql(self, query: str) -> str:
        """`query` in open-source Spark SQL: event_log() calls, JSON paths and pipeline names rewritten."""
        from harness.query import rewrite_event_log_calls, rewrite_json_paths

        query = rewrite_event_log_calls(query, self._event_log_view)
        return self.runtime.names.rewrite_sql(rewrite_json_paths(query))

    def _event_log_view(self, reference: Any) -> str:
        settings = self.settings
        if reference.pipeline_id is not None and reference.pipeline_id in (
            settings.pipeline_id,
            settings.name,
        ):
            return EVENT_LOG_VIEW
        if reference.table is not None and self.runtime.names.internal_key(reference.table) is not None:
            return EVENT_LOG_VIEW
        raise EventLogNotFoundError(
            reference.pipeline_id or f"TABLE({reference.table})", settings.pipeline_id, settings.name
        )

    def volume_path(self, path: str) -> Path:
        """The local directory that stands for a /Volumes/... path."""
        return self.runtime.volumes.to_local(path)
