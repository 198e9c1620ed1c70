"""The pipeline event log: a Delta table with Databricks' columns, appended by every update.

Columns and JSON shapes follow Databricks' event log (docs: "Pipeline event log schema"), so the
same queries work in both places: ``origin`` and ``sequence`` are structs (``origin.update_id``),
``details`` and ``error`` are JSON strings (``get_json_object(details,
'$.flow_progress.metrics.num_output_rows')``; Databricks' ``details:flow_progress...`` colon syntax
is Databricks-only). Events are buffered and appended in a few commits per update (after set-up,
after flows, at the end), not one commit per event. `on_event_hook` callbacks receive each STABLE
event on a background thread, serially, as Databricks runs them.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.shim.records import EventHookDef

log = logging.getLogger(__name__)

EVENT_LOG_DDL = (
    "id STRING, "
    "sequence STRUCT<control_plane_seq_no: BIGINT, data_plane_id: STRUCT<instance: STRING, seq_no: BIGINT>>, "
    "origin STRUCT<cloud: STRING, region: STRING, org_id: STRING, pipeline_id: STRING, pipeline_name: STRING, "
    "pipeline_type: STRING, cluster_id: STRING, update_id: STRING, flow_id: STRING, flow_name: STRING, "
    "dataset_name: STRING, sink_name: STRING, batch_id: BIGINT, host: STRING, maintenance_id: STRING, "
    "request_id: STRING, materialization_name: STRING, uc_resource_id: STRING>, "
    "timestamp TIMESTAMP, message STRING, level STRING, maturity_level STRING, error STRING, "
    "details STRING, event_type STRING"
)

ORIGIN_FIELDS = (
    "cloud",
    "region",
    "org_id",
    "pipeline_id",
    "pipeline_name",
    "pipeline_type",
    "cluster_id",
    "update_id",
    "flow_id",
    "flow_name",
    "dataset_name",
    "sink_name",
    "batch_id",
    "host",
    "maintenance_id",
    "request_id",
    "materialization_name",
    "uc_resource_id",
)

Listener = Callable[[dict[str, Any]], None]


def error_details(exc: BaseException, fatal: bool = True) -> dict[str, Any]:
    """Databricks' error shape: {fatal, exceptions: [{class_name, message}]} (innermost cause last)."""
    exceptions = []
    current: BaseException | None = exc
    while current is not None and len(exceptions) < 5:
        exceptions.append({"class_name": type(current).__name__, "message": str(current)[:4000]})
        current = current.__cause__
    return {"fatal": fatal, "exceptions": exceptions}


@dataclass
class _HookState:
    hook: EventHookDef
    consecutive_failures: int = 0
    disabled: bool = False


@dataclass
class EventLog:
    """Buffers events of one pipeline and appends them to its Delta event-log table."""

    spark: Any
    path: str
    pipeline_id: str
    pipeline_name: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[Listener] = field(default_factory=list)
    hooks: Sequence[EventHookDef] = ()

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        self._seq = self._last_sequence()
        self._host = socket.gethostname()
        self._hook_states: list[_HookState] = []
        self._hook_queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._hook_thread: threading.Thread | None = None
        self.start_hooks(self.hooks)

    def start_hooks(self, hooks: Sequence[EventHookDef]) -> None:
        """Deliver every later STABLE event to these hooks (declared by the pipeline's code)."""
        if not hooks:
            return
        self._hook_states.extend(_HookState(h) for h in hooks)
        if self._hook_thread is None:
            self._hook_thread = threading.Thread(target=self._run_hooks, name="dlt-event-hooks", daemon=True)
            self._hook_thread.start()

    # --- writing ------------------------------------------------------------------------------
    def _last_sequence(self) -> int:
        from harness.runtime.tables import delta_table_exists

        if not delta_table_exists(self.path):
            return 0
        row = (
            self.spark.read.format("delta")
            .load(self.path)
            .selectExpr("max(sequence.data_plane_id.seq_no) AS s")
            .first()
        )
        return int(row["s"] or 0) if row else 0

    def emit(
        self,
        event_type: str,
        message: str,
        details: dict[str, Any],
        *,
        level: str = "INFO",
        origin: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        maturity_level: str = "STABLE",
    ) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            seq = self._seq
        full_origin = dict.fromkeys(ORIGIN_FIELDS)
        full_origin.update(
            {
                "cloud": "local",
                "region": "local",
                "pipeline_id": self.pipeline_id,
                "pipeline_name": self.pipeline_name,
                "pipeline_type": "WORKSPACE",
                "host": self._host,
            }
        )
        full_origin.update(origin or {})
        event = {
            "id": str(uuid.uuid4()),
            "sequence": {
                "control_plane_seq_no": seq,
                "data_plane_id": {"instance": self._host, "seq_no": seq},
            },
            "origin": full_origin,
            "timestamp": self.clock(),
            "message": message,
            "level": level,
            "maturity_level": maturity_level,
            "error": json.dumps(error, sort_keys=True) if error else None,
            "details": json.dumps({event_type: details}, sort_keys=True, default=str),
            "event_type": event_type,
        }
        with self._lock:
            self._buffer.append(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.debug("event listener failed", exc_info=True)
        if self._hook_states and maturity_level == "STABLE" and event_type != "hook_progress":
            self._hook_queue.put(event)
        return event

    def flush(self) -> int:
        """Append buffered events to the Delta table (one commit). Returns how many were written."""
        with self._lock:
            rows, self._buffer = self._buffer, []
        if not rows:
            return 0
        frame = self.spark.createDataFrame(
            [
                (
                    r["id"],
                    r["sequence"],
                    r["origin"],
                    r["timestamp"],
                    r["message"],
                    r["level"],
                    r["maturity_level"],
                    r["error"],
                    r["details"],
                    r["event_type"],
                )
                for r in rows
            ],
            EVENT_LOG_DDL,
        )
        frame.write.format("delta").mode("append").save(self.path)
        return len(rows)

    # --- event hooks --------------------------------------------------------------------------
    def _run_hooks(self) -> None:
        while True:
            event = self._hook_queue.get()
            try:
                if event is None:
                    return
                self._deliver(event)
            finally:
                self._hook_queue.task_done()

    def _deliver(self, event: dict[str, Any]) -> None:
        payload = dict(event)
        payload["timestamp"] = event["timestamp"].isoformat()
        for state in self._hook_states:
            if state.disabled:
                continue
            name = getattr(state.hook.func, "__name__", "hook")
            try:
                state.hook.func(payload)
                state.consecutive_failures = 0
            except Exception as exc:
                state.consecutive_failures += 1
                limit = state.hook.max_allowable_consecutive_failures
                state.disabled = limit is not None and state.consecutive_failures > limit
                self.emit(
                    "hook_progress",
                    f"Event hook '{name}' failed: {exc}"
                    + (" The hook is disabled." if state.disabled else ""),
                    {"name": name, "status": "DISABLED" if state.disabled else "FAILED"},
                    level="WARN",
                    error=error_details(exc, fatal=False),
                )

    def drain_hooks(self, timeout: float = 30.0) -> None:
        """Wait (bounded) until the hooks have seen every event emitted so far."""
        if self._hook_thread is None:
            return
        done = threading.Event()

        def wait() -> None:
            self._hook_queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def close(self) -> None:
        if self._hook_thread is not None:
            self.drain_hooks()
            self._hook_queue.put(None)
            self._hook_thread.join(timeout=5)
            self._hook_thread = None
