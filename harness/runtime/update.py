"""One triggered update, phase by phase, as Databricks runs it.

QUEUED → INITIALIZING (configuration, load sources) → SETTING_UP_TABLES (analyse the graph, create
tables) → RESETTING (full refresh only) → RUNNING (flows in dependency order, independent flows
concurrently) → COMPLETED or FAILED. Every step is an event in the event log. A failed flow marks
the update FAILED and skips what reads from it, while independent flows finish.

This module is the phase script; each phase's work lives in its own module: crash recovery in
`event_log_recovery`, definition events in `definitions`, table set-up and resets in `table_setup`,
the flows in `flow_runner` (over the pure `scheduler`), where the time goes in `profile`. Every part
receives one `UpdateContext`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.dbutils import DBUtils, redact
from harness.errors import HarnessError, NewColumnsDetectedError
from harness.graph.builder import GraphBuilder
from harness.graph.model import PipelineGraph
from harness.graph.names import PipelineNames
from harness.runtime import table_setup
from harness.runtime.crashpoints import crash_point
from harness.runtime.definitions import emit_definitions
from harness.runtime.event_log import EventLog
from harness.runtime.event_log_recovery import close_crashed_updates
from harness.runtime.flow_runner import run_flows
from harness.runtime.interception import intercepting
from harness.runtime.profile import UpdateProfile, timed
from harness.runtime.refresh import RefreshRequest
from harness.runtime.results import UpdateResult
from harness.runtime.scheduler import default_max_concurrent_flows
from harness.runtime.sources import (
    library_files,
    load_sources,
    pipeline_import_path,
    share_with_python_workers,
    spark_builtin,
)
from harness.runtime.tables import TableLocation, TableStore, delta_table_exists
from harness.runtime.update_context import UpdateContext
from harness.settings.model import PipelineSettings
from harness.settings.volumes import VolumeMapper, is_volume_path
from harness.shim.registry import PipelineRegistry
from harness.state import StateLayout


@dataclass
class PipelineRuntime:
    """Everything an update needs that outlives one update."""

    spark: Any
    settings: PipelineSettings
    layout: StateLayout
    pipeline_root: Path
    max_concurrent_flows: int = field(default_factory=default_max_concurrent_flows)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = PipelineNames(self.settings.catalog, self.settings.schema)
        self.volumes = VolumeMapper(self.layout.volumes_dir)
        self.store = TableStore(self.spark, self.layout.tables_dir(self.settings.name))
        self.checkpoints_root = self.layout.checkpoints_dir(self.settings.name)
        self.event_log_path = str(self.layout.event_log_dir(self.settings.name))
        self.dbutils = DBUtils(
            self.volumes, self.layout.dbfs_dir, self.settings.configuration, self.layout.secrets_file
        )

    def map_path(self, path: str) -> str:
        return self.volumes.map(path) if is_volume_path(path) else path

    def import_paths(self) -> list[Path]:
        paths = [self.pipeline_root]
        if self.settings.root_path:
            root = Path(self.settings.root_path)
            paths.insert(0, root if root.is_absolute() else (self.pipeline_root / root).resolve())
        return paths


class UpdateRunner:
    def __init__(
        self, runtime: PipelineRuntime, request: RefreshRequest, update_id: str | None = None
    ) -> None:
        self.rt = runtime
        update_id = update_id or str(uuid.uuid4())
        profile = UpdateProfile(runtime.spark, update_id)
        events = EventLog(
            runtime.spark,
            runtime.event_log_path,
            runtime.settings.pipeline_id,
            runtime.settings.name,
            clock=runtime.clock,
            listeners=runtime.listeners,
            profile=profile,
        )
        self.ctx = UpdateContext(runtime, request, update_id, events, profile)

    @property
    def update_id(self) -> str:
        return self.ctx.update_id

    # --- the phase script ---------------------------------------------------------------------
    def run(self) -> UpdateResult:
        ctx, phase = self.ctx, self.ctx.profile.phase
        started = time.monotonic()
        with phase("recover"), timed("delta_log"):
            close_crashed_updates(ctx.events)
        ctx.events.open_update(ctx.update_id)
        self._create_update_event()
        ctx.progress("QUEUED")
        ctx.progress("INITIALIZING")
        for warning in self.rt.settings.warnings:
            ctx.warn(warning, "INITIALIZING")
        failure: BaseException | None = None
        try:
            with self._pipeline_scope():
                with phase("load"):
                    registry = self._load()
                ctx.events.start_hooks(registry.hooks)
                ctx.progress("SETTING_UP_TABLES")
                with phase("analyse"):
                    graph = self._analyse(registry)
                for warning in graph.warnings:
                    ctx.warn(warning, "SETTING_UP_TABLES")
                emit_definitions(ctx, graph)
                with phase("create_tables"):
                    table_setup.create_tables(ctx, graph)
                with phase("plan"):
                    refresh = table_setup.plan(ctx, graph)
                if refresh.reset or refresh.not_resettable:
                    ctx.progress("RESETTING")
                    with phase("reset"):
                        table_setup.reset(ctx, graph, refresh)
                with phase("setup_flush"):
                    ctx.events.flush()
                ctx.progress("RUNNING")
                with phase("run_flows"):
                    run_flows(ctx, graph, refresh)
        except Exception as exc:
            failure = exc
        failure = self._terminal_event(failure)
        with phase("finish"):
            self._close()
        ctx.profile.finish()
        return UpdateResult(
            update_id=ctx.update_id,
            status="FAILED" if failure is not None else "COMPLETED",
            flows=ctx.flow_results,
            duration_s=time.monotonic() - started,
            error=redact(str(failure)) if failure is not None else None,
            error_class=type(failure).__name__ if failure is not None else None,
            profile=ctx.profile.as_dict(),
        )

    def validate(self) -> PipelineGraph:
        """Load and analyse only (a dry run): nothing is written, no event is recorded."""
        with self._pipeline_scope():
            return self._analyse(self._load())

    # --- parts --------------------------------------------------------------------------------
    @contextmanager
    def _pipeline_scope(self) -> Iterator[None]:
        """Pipeline code may run: reads intercepted, its folders importable, its configuration set."""
        paths = self.rt.import_paths()
        with intercepting(), pipeline_import_path(paths), spark_builtin(self.rt.spark, self.rt.dbutils):
            with self.ctx.profile.phase("configure"):
                previous = self._apply_configuration()
            try:
                yield
            finally:
                self._restore_configuration(previous)

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
                headline = str(exc).splitlines()[0]
                self.ctx.warn(
                    f"Configuration {key!r} could not be applied locally: {headline}", "INITIALIZING"
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
        load_sources(
            files,
            self.rt.spark,
            registry,
            configuration=self.rt.settings.configuration,
            names=self.rt.names,
        )
        share_with_python_workers(self.rt.import_paths())
        for flow in registry.flows.values():
            self.ctx.flow_targets[flow.name] = flow.target.split(".")[-1].strip("`").lower()
        return registry

    def _analyse(self, registry: PipelineRegistry) -> PipelineGraph:
        return GraphBuilder(self.rt.spark, registry, self.rt.names, self.ctx).build()

    def _create_update_event(self) -> None:
        settings, request = self.rt.settings, self.ctx.request
        self.ctx.events.emit(
            "create_update",
            f"Update {self.update_id[:6]} started by USER_ACTION.",
            {
                "cause": "USER_ACTION",
                "full_refresh": request.full_refresh,
                "refresh_selection": list(request.refresh_selection),
                "full_refresh_selection": list(request.full_refresh_selection),
                "validate_only": False,
                "config": {
                    "name": settings.name,
                    "catalog": settings.catalog,
                    "schema": settings.schema,
                    "configuration": dict(settings.configuration),
                    "development": settings.development,
                },
            },
            origin=self.ctx.origin(),
        )

    def _terminal_event(self, failure: BaseException | None) -> BaseException | None:
        """The profile, then COMPLETED or FAILED (a failed flow fails the update); returns the failure."""
        ctx = self.ctx
        profile = ctx.profile.finish()
        ctx.events.emit(
            "harness_profile",
            f"Update {ctx.update_id[:6]} profile: {profile['total_ms'] / 1000:.1f} s, {profile['jobs']} Spark jobs.",
            profile,
            origin=ctx.origin(),
            maturity_level="EVOLVING",
        )
        failed_flows = [r for r in ctx.flow_results.values() if r.status == "FAILED"]
        if failure is None and failed_flows:
            first = failed_flows[0].exception
            failure = first or HarnessError(failed_flows[0].error or "flow failed")
            summary = f"{len(failed_flows)} flow(s) failed: " + ", ".join(f.name for f in failed_flows)
            ctx.progress("FAILED", error=HarnessError(f"{summary}. First error: {failure}"))
        elif failure is not None:
            ctx.progress("FAILED", error=failure)
        else:
            ctx.progress("COMPLETED")
        return failure

    def _close(self) -> None:
        events = self.ctx.events
        events.drain_hooks()
        events.stop_background_flush()
        events.flush()
        crash_point("update:before_close")  # terminal event committed, journal still lists the update
        events.close_update(self.update_id)
        events.close()
        self._publish_event_log()

    def _publish_event_log(self) -> None:
        """Register the event log as a table when the settings ask for it (settings.event_log)."""
        target = self.rt.settings.event_log
        if target is None or not delta_table_exists(self.rt.event_log_path):
            return
        database = self.rt.settings.event_log_database()
        self.rt.store.register(
            TableLocation(target.name.lower(), database, target.name, self.rt.event_log_path, True)
        )

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
