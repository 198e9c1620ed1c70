"""One triggered update, phase by phase, as Databricks runs it.

QUEUED → INITIALIZING (configuration, load sources) → SETTING_UP_TABLES (analyse the graph, create
tables) → RESETTING (full refresh only) → RUNNING (flows in dependency order, independent flows
concurrently) → COMPLETED or FAILED. Every step is an event in the event log. A failed flow marks
the update FAILED and skips what reads from it, while independent flows finish.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, NewColumnsDetectedError
from harness.graph.builder import GraphBuilder
from harness.graph.model import PipelineGraph, ResolvedDataset
from harness.graph.names import PipelineNames
from harness.runtime.crashpoints import crash_point
from harness.runtime.event_log import EventLog, error_details
from harness.runtime.expectations import null_passes
from harness.runtime.flows import FlowExecutor, cdc_state_dir, checkpoint_dir
from harness.runtime.interception import intercepting
from harness.runtime.refresh import RefreshPlan, RefreshRequest, plan_refresh, reset_allowed
from harness.runtime.resolver import ExecutionResolver
from harness.runtime.results import FlowResult, UpdateResult
from harness.runtime.sources import (
    library_files,
    load_sources,
    pipeline_import_path,
    share_with_python_workers,
    spark_builtin,
)
from harness.runtime.tables import TableStore, delta_table_exists
from harness.settings.model import PipelineSettings
from harness.settings.volumes import VolumeMapper, is_volume_path
from harness.shim.records import CdcFlowDef, DatasetKind
from harness.shim.registry import PipelineRegistry
from harness.state import StateLayout

log = logging.getLogger(__name__)

FLOW_TYPES = {
    "batch": "COMPLETE",
    "stream": "INCREMENTAL",
    "once": "ONCE",
    "cdc": "APPLY_CHANGES",
    "snapshot": "APPLY_CHANGES_FROM_SNAPSHOT",
    "view": "VIEW",
}


@dataclass
class PipelineRuntime:
    """Everything an update needs that outlives one update."""

    spark: Any
    settings: PipelineSettings
    layout: StateLayout
    pipeline_root: Path
    max_concurrent_flows: int = 3
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = PipelineNames(self.settings.catalog, self.settings.schema)
        self.volumes = VolumeMapper(self.layout.volumes_dir)
        self.store = TableStore(self.spark, self.layout.tables_dir(self.settings.name))
        self.checkpoints_root = self.layout.checkpoints_dir(self.settings.name)
        self.event_log_path = str(self.layout.event_log_dir(self.settings.name))

    def map_path(self, path: str) -> str:
        return self.volumes.map(path) if is_volume_path(path) else path


class UpdateRunner:
    def __init__(
        self, runtime: PipelineRuntime, request: RefreshRequest, update_id: str | None = None
    ) -> None:
        self.rt = runtime
        self.request = request
        self.update_id = update_id or str(uuid.uuid4())
        self.events = EventLog(
            runtime.spark,
            runtime.event_log_path,
            runtime.settings.pipeline_id,
            runtime.settings.name,
            clock=runtime.clock,
            listeners=runtime.listeners,
        )
        self.flow_results: dict[str, FlowResult] = {}
        self._flow_targets: dict[str, str] = {}
        self._warned: set[tuple[str, str]] = set()

    # --- events -------------------------------------------------------------------------------
    def _origin(self, **extra: Any) -> dict[str, Any]:
        return {"update_id": self.update_id, **extra}

    def _progress(self, state: str, error: BaseException | None = None) -> None:
        level = "ERROR" if state == "FAILED" else "INFO"
        message = f"Update {self.update_id[:6]} is {state}."
        if error is not None:
            message = f"Update {self.update_id[:6]} is FAILED: {error}"
        self.events.emit(
            "update_progress",
            message,
            {"state": state},
            level=level,
            origin=self._origin(),
            error=error_details(error) if error is not None else None,
        )

    def _flow_event(
        self,
        flow: str,
        dataset: str,
        status: str,
        extra: dict[str, Any] | None = None,
        error: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        details: dict[str, Any] = {"status": status}
        details.update(extra or {})
        level = "ERROR" if status == "FAILED" else ("METRICS" if "metrics" in details else "INFO")
        self.events.emit(
            "flow_progress",
            message or f'Flow "{flow}" is {status}.',
            details,
            level=level,
            origin=self._origin(flow_name=flow, dataset_name=dataset, flow_id=self._flow_id(flow)),
            error=error_details(error) if error is not None else None,
        )

    def _flow_id(self, flow: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.rt.settings.pipeline_id}/{flow}"))

    def _close_crashed_updates(self) -> None:
        """An update that never reached a terminal state was killed: record it as FAILED now.

        The journal lists updates that started and were not closed. One killed before its first
        event-log commit is closed too (the table may not exist yet); one killed after its terminal
        event was committed but before the journal was updated is only removed from the journal.
        """
        exists = delta_table_exists(self.rt.event_log_path)
        journal = self.events.read_journal()
        if journal is not None:
            open_updates = list(journal.get("open_updates", []))
            finished = self._terminal_updates(open_updates) if exists and open_updates else set()
            for update_id in open_updates:
                if update_id not in finished:
                    self._close_crashed(update_id)
                self.events.close_update(update_id)
            return
        if not exists:
            return
        rows = (
            self.rt.spark.read.format("delta")
            .load(self.rt.event_log_path)
            .where("event_type IN ('create_update', 'update_progress')")
            .selectExpr(
                "origin.update_id AS update_id",
                "get_json_object(details, '$.update_progress.state') AS state",
            )
            .collect()
        )
        started: list[str] = []
        finished: set[str] = set()
        for row in rows:
            if row["state"] is None:
                started.append(row["update_id"])
            elif row["state"] in ("COMPLETED", "FAILED", "CANCELED"):
                finished.add(row["update_id"])
        for update_id in started:
            if update_id not in finished:
                self._close_crashed(update_id)

    def _terminal_updates(self, update_ids: list[str]) -> set[str]:
        """Those of ``update_ids`` whose terminal state is already in the event log."""
        from pyspark.sql import functions as F

        rows = (
            self.rt.spark.read.format("delta")
            .load(self.rt.event_log_path)
            .where(F.col("event_type") == "update_progress")
            .where(F.col("origin.update_id").isin(update_ids))
            .where(
                F.get_json_object("details", "$.update_progress.state").isin(
                    "COMPLETED", "FAILED", "CANCELED"
                )
            )
            .select("origin.update_id")
            .distinct()
            .collect()
        )
        return {row[0] for row in rows}

    def _close_crashed(self, update_id: str) -> None:
        """Record an update that never reached a terminal state (its process was killed) as FAILED."""
        self.events.emit(
            "update_progress",
            f"Update {update_id[:6]} is FAILED: it did not finish (the process running it stopped).",
            {"state": "FAILED"},
            level="ERROR",
            origin={"update_id": update_id},
            error={
                "fatal": True,
                "exceptions": [
                    {
                        "class_name": "UpdateTerminatedUnexpectedly",
                        "message": "the process running the update stopped before the update finished",
                    }
                ],
            },
        )

    # --- phases -------------------------------------------------------------------------------
    def _apply_configuration(self) -> dict[str, str | None]:
        spark, settings = self.rt.spark, self.rt.settings
        conf = dict(settings.configuration)
        conf.setdefault("pipelines.id", settings.pipeline_id)
        conf.setdefault("pipelines.name", settings.name)
        previous: dict[str, str | None] = {}
        for key, value in conf.items():
            previous[key] = spark.conf.get(key, None)
            try:
                spark.conf.set(key, value)
            except Exception as exc:
                self.events.emit(
                    "update_progress",
                    f"Configuration {key!r} could not be applied locally: {str(exc).splitlines()[0]}",
                    {"state": "INITIALIZING"},
                    level="WARN",
                    origin=self._origin(),
                )
        return previous

    def _restore_configuration(self, previous: dict[str, str | None]) -> None:
        for key, value in previous.items():
            try:
                if value is None:
                    self.rt.spark.conf.unset(key)
                else:
                    self.rt.spark.conf.set(key, value)
            except Exception:
                pass

    def _load(self) -> PipelineRegistry:
        registry = PipelineRegistry()
        files = library_files(self.rt.settings.libraries, self.rt.pipeline_root)
        load_sources(files, self.rt.spark, registry)
        share_with_python_workers(self._import_paths())
        for flow in registry.flows.values():
            self._flow_targets[flow.name] = flow.target.split(".")[-1].strip("`").lower()
        return registry

    def cloud_files(self, path: str, options: dict[str, str], schema: Any, source_id: str) -> Any:
        from harness.autoloader import cloud_files_stream

        flow, index = source_id.rsplit("#", 1)
        target = self._flow_targets.get(flow, flow)
        checkpoint = self.rt.checkpoints_root / target / flow
        default_location = checkpoint / "_harness" / "autoloader" / index
        mapped = {k: self.rt.map_path(v) if isinstance(v, str) else v for k, v in options.items()}
        # observedMetrics keys must be unique within one streaming query: flow + source index is.
        name = f"{flow} ({path})" if index == "0" else f"{flow}#{index} ({path})"
        return cloud_files_stream(
            self.rt.spark,
            self.rt.map_path(path),
            mapped,
            schema,
            default_schema_location=str(default_location),
            source_name=name,
            checkpoint_dir=str(checkpoint),
            warn=lambda message: self._warn_once(message, flow),
        )

    def _warn_once(self, message: str, flow: str) -> None:
        """A WARN event (a dataset function runs at analysis and again at execution: report once)."""
        if (flow, message) in self._warned:
            return
        self._warned.add((flow, message))
        log.warning("%s: %s", flow, message)
        self.events.emit(
            "flow_progress" if flow in self._flow_targets else "update_progress",
            message,
            {"status": "RUNNING"} if flow in self._flow_targets else {"state": "SETTING_UP_TABLES"},
            level="WARN",
            origin=self._origin(flow_name=flow),
        )

    def _locate(self, key: str, dataset: ResolvedDataset) -> Any:
        definition = dataset.definition
        if dataset.kind is DatasetKind.SINK:
            return None
        parts = definition.name.split(".")
        if len(parts) > 1 and self.rt.names.internal_key(definition.name) is None:
            database, table = self.rt.names.local_table(definition.name)
        else:
            database, table = self.rt.names.database, parts[-1].strip("`")
        path = self.rt.map_path(definition.path) if definition.path else None
        return self.rt.store.location(key, table, database, definition, path)

    def _existing_schema(self, dataset: ResolvedDataset) -> Any:
        location = self._locate(dataset.key, dataset)
        if location is not None and delta_table_exists(location.path):
            return self.rt.spark.read.format("delta").load(location.path).schema
        return None

    def _cdc_schema(self, source_schema: Any, spec: CdcFlowDef) -> Any:
        from harness.cdc import cdc_target_schema

        return cdc_target_schema(source_schema, spec) if source_schema is not None else None

    def _analyse(self, registry: PipelineRegistry) -> PipelineGraph:
        builder = GraphBuilder(
            self.rt.spark,
            registry,
            self.rt.names,
            self._locate,
            self.cloud_files,
            self.rt.map_path,
            self._cdc_schema,
            self._existing_schema,
        )
        return builder.build()

    def _definition_events(self, graph: PipelineGraph) -> None:
        for dataset in graph.datasets.values():
            definition = dataset.definition
            details = {
                "dataset_name": dataset.name,
                "dataset_type": dataset.kind.name,
                "published": bool(dataset.location and dataset.location.published),
                "storage_location": dataset.location.path if dataset.location else None,
                "num_flows": len(dataset.flows),
                "comment": definition.comment,
                "table_properties": dict(definition.table_properties),
                "partition_columns": list(definition.partition_cols),
                "clustering_columns": list(definition.cluster_by),
                "expectations": [
                    {"name": e.name, "constraint": e.constraint, "action": e.action.value.upper()}
                    for e in definition.expectations
                ],
                "schema": [
                    {"name": f.name, "data_type": f.dataType.simpleString()}
                    for f in (dataset.schema.fields if dataset.schema else [])
                ],
                "source_code_location": str(definition.location),
            }
            self.events.emit(
                "dataset_definition",
                f"Dataset {dataset.name!r} defined as {dataset.kind.name}.",
                details,
                origin=self._origin(dataset_name=dataset.name),
            )
        for flow in graph.flows.values():
            definition = flow.definition
            expectations = getattr(definition, "expectations", ())
            details = {
                "output_dataset": graph.datasets[flow.target].name,
                "input_datasets": sorted(graph.datasets[k].name for k in flow.reads),
                "flow_type": FLOW_TYPES.get(flow.mode, flow.mode.upper()),
                "expectations": [
                    {"name": e.name, "constraint": e.constraint, "action": e.action.value.upper()}
                    for e in expectations
                ],
                "schema": [
                    {"name": f.name, "data_type": f.dataType.simpleString()}
                    for f in (flow.schema.fields if flow.schema else [])
                ],
                "source_code_location": flow.location,
                "once": bool(getattr(definition, "once", False)),
            }
            self.events.emit(
                "flow_definition",
                f"Flow {flow.name!r} defined as {details['flow_type']}.",
                details,
                origin=self._origin(
                    flow_name=flow.name,
                    dataset_name=graph.datasets[flow.target].name,
                    flow_id=self._flow_id(flow.name),
                ),
            )

    def _setup_tables(self, graph: PipelineGraph) -> None:
        store = self.rt.store
        store.ensure_database(self.rt.names.database)
        for dataset in graph.datasets.values():
            if (
                dataset.kind is DatasetKind.STREAMING_TABLE
                and dataset.location is not None
                and dataset.schema is not None
            ):
                store.create_if_missing(dataset.location, dataset.schema, dataset.definition)

    def _plan(self, graph: PipelineGraph) -> RefreshPlan:
        tables = [k for k, d in graph.datasets.items() if d.kind is not DatasetKind.VIEW]
        streaming = [k for k, d in graph.datasets.items() if d.kind is DatasetKind.STREAMING_TABLE]
        resettable = {
            key: reset_allowed(dict(graph.datasets[key].definition.table_properties))
            and reset_allowed(self.rt.store.table_properties(graph.datasets[key].location))
            for key in streaming
            if graph.datasets[key].location is not None
        }
        return plan_refresh(tables, streaming, resettable, self.request)

    def _reset(self, graph: PipelineGraph, plan: RefreshPlan) -> None:
        for key in sorted(plan.not_resettable):
            self.events.emit(
                "update_progress",
                f"Table {graph.datasets[key].name!r} has pipelines.reset.allowed=false: not reset.",
                {"state": "RESETTING"},
                level="WARN",
                origin=self._origin(dataset_name=graph.datasets[key].name),
            )
        for key in sorted(plan.reset):
            dataset = graph.datasets[key]
            for flow in dataset.flows:
                self.rt.store.remove_dir(checkpoint_dir(self.rt.checkpoints_root, graph.flows[flow]))
            self.rt.store.remove_dir(cdc_state_dir(self.rt.checkpoints_root, key))
            if dataset.location is not None and dataset.schema is not None:
                self.rt.store.truncate(dataset.location, dataset.schema)
        # sinks' checkpoints reset with a full refresh too, but their data is never cleared
        if self.request.full_refresh:
            for dataset in graph.datasets.values():
                if dataset.kind is DatasetKind.SINK:
                    for flow in dataset.flows:
                        self.rt.store.remove_dir(checkpoint_dir(self.rt.checkpoints_root, graph.flows[flow]))

    # --- running flows --------------------------------------------------------------------------
    def _run_flows(self, graph: PipelineGraph, plan: RefreshPlan) -> None:
        resolver = ExecutionResolver(
            self.rt.spark,
            graph,
            self.rt.names,
            self.cloud_files,
            self.rt.map_path,
            null_passes(self.rt.spark),
        )
        executor = FlowExecutor(
            self.rt.spark, graph, resolver, self.rt.store, self.rt.checkpoints_root, resolver.null_passes
        )
        order = graph.executable_flows()
        selected = [f for f in order if graph.flows[f].target in plan.run]
        for name in order:
            dataset = graph.datasets[graph.flows[name].target].name
            if name not in selected:
                self.flow_results[name] = FlowResult(name, dataset, status="EXCLUDED")
                self._flow_event(name, dataset, "EXCLUDED")
            else:
                self.flow_results[name] = FlowResult(name, dataset, status="QUEUED")
                self._flow_event(name, dataset, "QUEUED")
        pending = list(selected)
        finished: set[str] = set(graph.flows) - set(selected)  # excluded flows and views count as done
        failed: set[str] = set()
        running: dict[Future[FlowResult], str] = {}
        with ThreadPoolExecutor(
            max_workers=max(1, self.rt.max_concurrent_flows), thread_name_prefix="dlt-flow"
        ) as pool:
            while pending or running:
                for name in list(pending):
                    upstream = graph.flow_dag.ancestors(name)
                    if upstream & failed:
                        pending.remove(name)
                        failed.add(name)
                        self._finish_skipped(name, graph)
                        continue
                    if upstream <= finished and len(running) < self.rt.max_concurrent_flows:
                        pending.remove(name)
                        dataset = graph.datasets[graph.flows[name].target].name
                        self._flow_event(name, dataset, "STARTING")
                        self._flow_event(name, dataset, "RUNNING")
                        context = contextvars.copy_context()
                        running[pool.submit(context.run, executor.run, graph.flows[name])] = name
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    result = future.result()
                    self.flow_results[name] = result
                    self._finish(result, graph)
                    (failed if result.status == "FAILED" else finished).add(name)
                self.events.flush_soon()
        for view_flow, counts in executor.view_results.items():
            flow = graph.flows[view_flow]
            dataset = graph.datasets[flow.target].name
            self._flow_event(
                view_flow,
                dataset,
                "COMPLETED",
                {
                    "metrics": {"num_output_rows": counts.input_rows - counts.dropped},
                    "data_quality": counts.data_quality(),
                },
            )

    def _finish_skipped(self, name: str, graph: PipelineGraph) -> None:
        dataset = graph.datasets[graph.flows[name].target].name
        self.flow_results[name] = FlowResult(name, dataset, status="SKIPPED")
        self._flow_event(
            name, dataset, "SKIPPED", message=f'Flow "{name}" is SKIPPED because an upstream flow failed.'
        )

    def _finish(self, result: FlowResult, graph: PipelineGraph) -> None:
        extra: dict[str, Any] = {}
        if result.status == "COMPLETED":
            extra["metrics"] = result.metrics()
            quality = result.data_quality()
            if quality is not None:
                extra["data_quality"] = quality
            extra["num_batches"] = result.num_batches
            extra["duration_ms"] = int(result.duration_s * 1000)
        error = result.exception
        message = f'Flow "{result.name}" has FAILED: {result.error}' if result.status == "FAILED" else None
        self._flow_event(result.name, result.target, result.status, extra, error=error, message=message)

    # --- entry point --------------------------------------------------------------------------
    def run(self) -> UpdateResult:
        started = time.monotonic()
        self._close_crashed_updates()
        self.events.open_update(self.update_id)
        self.events.emit(
            "create_update",
            f"Update {self.update_id[:6]} started by USER_ACTION.",
            {
                "cause": "USER_ACTION",
                "full_refresh": self.request.full_refresh,
                "refresh_selection": list(self.request.refresh_selection),
                "full_refresh_selection": list(self.request.full_refresh_selection),
                "validate_only": False,
                "config": {
                    "name": self.rt.settings.name,
                    "catalog": self.rt.settings.catalog,
                    "schema": self.rt.settings.schema,
                    "configuration": dict(self.rt.settings.configuration),
                    "development": self.rt.settings.development,
                },
            },
            origin=self._origin(),
        )
        self._progress("QUEUED")
        self._progress("INITIALIZING")
        failure: BaseException | None = None
        previous_conf: dict[str, str | None] = {}
        for warning in self.rt.settings.warnings:
            self.events.emit(
                "update_progress", warning, {"state": "INITIALIZING"}, level="WARN", origin=self._origin()
            )
        try:
            with intercepting(), pipeline_import_path(self._import_paths()), spark_builtin(self.rt.spark):
                previous_conf = self._apply_configuration()
                registry = self._load()
                self.events.start_hooks(registry.hooks)
                self._progress("SETTING_UP_TABLES")
                graph = self._analyse(registry)
                for warning in graph.warnings:
                    self.events.emit(
                        "update_progress",
                        warning,
                        {"state": "SETTING_UP_TABLES"},
                        level="WARN",
                        origin=self._origin(),
                    )
                self._definition_events(graph)
                self._setup_tables(graph)
                plan = self._plan(graph)
                if plan.reset or plan.not_resettable:
                    self._progress("RESETTING")
                    self._reset(graph, plan)
                self.events.flush()
                self._progress("RUNNING")
                self._run_flows(graph, plan)
        except HarnessError as exc:
            failure = exc
        except Exception as exc:
            failure = exc
        finally:
            self._restore_configuration(previous_conf)
        failed_flows = [r for r in self.flow_results.values() if r.status == "FAILED"]
        if failure is None and failed_flows:
            first = failed_flows[0].exception
            failure = first or HarnessError(failed_flows[0].error or "flow failed")
            summary = f"{len(failed_flows)} flow(s) failed: " + ", ".join(f.name for f in failed_flows)
            self._progress("FAILED", error=HarnessError(f"{summary}. First error: {failure}"))
        elif failure is not None:
            self._progress("FAILED", error=failure)
        else:
            self._progress("COMPLETED")
        self.events.drain_hooks()
        self.events.stop_background_flush()
        self.events.flush()
        crash_point("update:before_close")  # terminal event committed, journal still lists the update
        self.events.close_update(self.update_id)
        self.events.close()
        self._publish_event_log()
        status = "FAILED" if failure is not None else "COMPLETED"
        return UpdateResult(
            update_id=self.update_id,
            status=status,
            flows=self.flow_results,
            duration_s=time.monotonic() - started,
            error=str(failure) if failure is not None else None,
            error_class=type(failure).__name__ if failure is not None else None,
        )

    def validate(self) -> PipelineGraph:
        """Load and analyse only (a dry run): nothing is written, no event is recorded."""
        previous: dict[str, str | None] = {}
        try:
            with intercepting(), pipeline_import_path(self._import_paths()), spark_builtin(self.rt.spark):
                previous = self._apply_configuration()
                return self._analyse(self._load())
        finally:
            self._restore_configuration(previous)

    def _publish_event_log(self) -> None:
        """Register the event log as a table when the settings ask for it (settings.event_log)."""
        target = self.rt.settings.event_log
        if target is None or not delta_table_exists(self.rt.event_log_path):
            return
        from harness.runtime.tables import TableLocation

        database = self.rt.settings.event_log_database()
        self.rt.store.register(
            TableLocation(target.name.lower(), database, target.name, self.rt.event_log_path, True)
        )

    def _import_paths(self) -> list[Path]:
        paths = [self.rt.pipeline_root]
        if self.rt.settings.root_path:
            root = Path(self.rt.settings.root_path)
            paths.insert(0, root if root.is_absolute() else (self.rt.pipeline_root / root).resolve())
        return paths

    @staticmethod
    def schema_change_pending(result: UpdateResult) -> bool:
        """True when the update failed only because Auto Loader recorded new columns (retry picks them up)."""
        failed = [f for f in result.flows.values() if f.status == "FAILED"]
        if not failed and result.error_class == NewColumnsDetectedError.__name__:
            # raised while the sources were set up (Parquet/ORC new columns found at start)
            return "addNewColumns" in (result.error or "")
        return bool(failed) and all(
            f.error_class == NewColumnsDetectedError.__name__ and "addNewColumns" in (f.error or "")
            for f in failed
        )


__all__ = ["PipelineRuntime", "UpdateRunner"]
