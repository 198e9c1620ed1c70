"""One update's typed context: the runtime it runs in, its id and request, its event log and profile.

Every part of an update (loading, analysis, table set-up, the flow runner) receives this one object
instead of positional callbacks. It also serves the graph builder and the execution resolver
(`harness.runtime.context.UpdateServices`): table locations, Auto Loader sources, /Volumes paths.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.graph.model import ResolvedDataset
from harness.runtime.context import SourceRef
from harness.runtime.event_log import EventLog, error_details
from harness.runtime.profile import UpdateProfile, timed
from harness.runtime.refresh import RefreshRequest
from harness.runtime.results import FlowResult
from harness.runtime.tables import delta_table_exists
from harness.shim.records import CdcFlowDef, DatasetKind

if TYPE_CHECKING:
    from harness.runtime.update import PipelineRuntime

log = logging.getLogger(__name__)


@dataclass
class UpdateContext:
    rt: PipelineRuntime
    request: RefreshRequest
    update_id: str
    events: EventLog
    profile: UpdateProfile
    #: flow name -> bare target table name (known once the sources are loaded)
    flow_targets: dict[str, str] = field(default_factory=dict)
    #: every flow's result so far, in execution order (filled by the flow runner)
    flow_results: dict[str, FlowResult] = field(default_factory=dict)
    _warned: set[tuple[str, str]] = field(default_factory=set)

    # --- events -------------------------------------------------------------------------------
    def origin(self, **extra: Any) -> dict[str, Any]:
        return {"update_id": self.update_id, **extra}

    def flow_id(self, flow: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.rt.settings.pipeline_id}/{flow}"))

    def progress(self, state: str, error: BaseException | None = None) -> None:
        message = f"Update {self.update_id[:6]} is {state}."
        if error is not None:
            message = f"Update {self.update_id[:6]} is FAILED: {error}"
        self.events.emit(
            "update_progress",
            message,
            {"state": state},
            level="ERROR" if state == "FAILED" else "INFO",
            origin=self.origin(),
            error=error_details(error) if error is not None else None,
        )

    def warn(self, message: str, state: str, **origin: Any) -> None:
        """A WARN update_progress event in ``state``."""
        self.events.emit(
            "update_progress", message, {"state": state}, level="WARN", origin=self.origin(**origin)
        )

    def flow_event(
        self,
        flow: str,
        dataset: str,
        status: str,
        extra: dict[str, Any] | None = None,
        error: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        details: dict[str, Any] = {"status": status, **(extra or {})}
        level = "ERROR" if status == "FAILED" else ("METRICS" if "metrics" in details else "INFO")
        self.events.emit(
            "flow_progress",
            message or f'Flow "{flow}" is {status}.',
            details,
            level=level,
            origin=self.origin(flow_name=flow, dataset_name=dataset, flow_id=self.flow_id(flow)),
            error=error_details(error) if error is not None else None,
        )

    def warn_once(self, message: str, flow: str) -> None:
        """A WARN event (a dataset function runs at analysis and again at execution: report once)."""
        if (flow, message) in self._warned:
            return
        self._warned.add((flow, message))
        log.warning("%s: %s", flow, message)
        known = flow in self.flow_targets
        self.events.emit(
            "flow_progress" if known else "update_progress",
            message,
            {"status": "RUNNING"} if known else {"state": "SETTING_UP_TABLES"},
            level="WARN",
            origin=self.origin(flow_name=flow),
        )

    # --- UpdateServices (graph builder and execution resolver) ---------------------------------
    def map_path(self, path: str) -> str:
        return self.rt.map_path(path)

    def cloud_files(self, path: str, options: dict[str, str], schema: Any, source: SourceRef) -> Any:
        from harness.autoloader import cloud_files_stream

        name, settings = self.rt.settings.name, self.rt.layout
        target = self.flow_targets.get(source.flow, source.flow)
        checkpoint = settings.flow_checkpoint_dir(name, target, source.flow)
        default_location = settings.autoloader_schema_dir(name, target, source.flow, source.index)
        mapped = {k: self.map_path(v) if isinstance(v, str) else v for k, v in options.items()}
        return cloud_files_stream(
            self.rt.spark,
            self.map_path(path),
            mapped,
            schema,
            default_schema_location=str(default_location),
            source_name=source.observed_name(path),
            checkpoint_dir=str(checkpoint),
            warn=lambda message: self.warn_once(message, source.flow),
        )

    def locate(self, key: str, dataset: ResolvedDataset) -> Any:
        definition = dataset.definition
        if dataset.kind is DatasetKind.SINK:
            return None
        names = self.rt.names
        parts = definition.name.split(".")
        if len(parts) > 1 and names.internal_key(definition.name) is None:
            database, table = names.local_table(definition.name)
        else:
            database, table = names.database, parts[-1].strip("`")
        path = self.map_path(definition.path) if definition.path else None
        return self.rt.store.location(key, table, database, definition, path)

    def existing_schema(self, dataset: ResolvedDataset) -> Any:
        location = self.locate(dataset.key, dataset)
        with timed("delta_log"):
            if location is not None and delta_table_exists(location.path):
                return self.rt.spark.read.format("delta").load(location.path).schema
        return None

    def cdc_schema(self, source_schema: Any, spec: CdcFlowDef) -> Any:
        from harness.cdc import cdc_target_schema

        return cdc_target_schema(source_schema, spec) if source_schema is not None else None


__all__ = ["UpdateContext"]
