"""The pipeline event log: a Delta table with Databricks' columns, appended by every update.

Columns and JSON shapes follow Databricks' event log (docs: "Pipeline event log schema"), so the
same queries work in both places: ``origin`` and ``sequence`` are structs (``origin.update_id``),
``details`` and ``error`` are JSON strings (``get_json_object(details,
'$.flow_progress.metrics.num_output_rows')``; Databricks' ``details:flow_progress...`` colon syntax
is Databricks-only). Events are buffered and appended in a few commits per update, not one commit
per event: after set-up, in the background while flows run (`flush_soon`: a flow never waits for
the event log), and at the end. A small journal beside the table (`events_journal.json`: the last
sequence number written and the updates still open) saves a scan of the whole log on every update
start; without it the harness scans, so older state directories keep working. `on_event_hook` callbacks receive each STABLE
event on a background thread, serially, as Databricks runs them.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.dbutils.redaction import redact
from harness.runtime.crashpoints import crash_point
from harness.runtime.profile import timed
from harness.shim.records import EventHookDef
from harness.state import event_log_journal_of

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
    #: where the time of event-log writes is recorded (harness/runtime/profile.py), if anywhere
    profile: Any = None
    #: the background writer commits at most once per interval while flows run (see _background_flush)
    flush_interval_s: float = 5.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        self.journal_path = event_log_journal_of(Path(self.path))
        self._seq = self._last_sequence()
        self._host = socket.gethostname()
        self._hook_states: list[_HookState] = []
        #: events emitted before the pipeline's code (and so its hooks) was loaded; hooks get them too
        self._before_hooks: list[dict[str, Any]] = []
        self._hook_queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._hook_thread: threading.Thread | None = None
        self._flush_wanted = threading.Event()
        self._flush_stopping = threading.Event()
        self._flush_stop = False
        self._flush_thread: threading.Thread | None = None
        self._flush_error: BaseException | None = None
        self.start_hooks(self.hooks)

    def start_hooks(self, hooks: Sequence[EventHookDef]) -> None:
        """Deliver every STABLE event of the update to these hooks, including those emitted before they loaded."""
        if not hooks:
            return
        first = not self._hook_states
        self._hook_states.extend(_HookState(h) for h in hooks)
        if first:  # "event hooks ... process all events generated during each pipeline update"
            for event in self._before_hooks:
                self._hook_queue.put(event)
        self._before_hooks = []
        if self._hook_thread is None:
            self._hook_thread = threading.Thread(target=self._run_hooks, name="dlt-event-hooks", daemon=True)
            self._hook_thread.start()

    # --- writing ------------------------------------------------------------------------------
    # --- journal ------------------------------------------------------------------------------
    def read_journal(self) -> dict[str, Any] | None:
        """The journal beside the table, or None (older state, or no update ever started)."""
        try:
            return json.loads(self.journal_path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _write_journal(self, **changes: Any) -> None:
        journal = self.read_journal() or {"last_seq": 0, "open_updates": []}
        journal.update(changes)
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.journal_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(journal, sort_keys=True))
        os.replace(tmp, self.journal_path)

    def open_update(self, update_id: str) -> None:
        """Record that an update started (so a killed process's update is closed as FAILED later)."""
        with self._write_lock:
            journal = self.read_journal() or {"open_updates": []}
            self._write_journal(open_updates=[*journal.get("open_updates", []), update_id])

    def close_update(self, update_id: str) -> None:
        with self._write_lock:
            journal = self.read_journal() or {"open_updates": []}
            self._write_journal(open_updates=[u for u in journal.get("open_updates", []) if u != update_id])

    def _last_sequence(self) -> int:
        from harness.runtime.tables import delta_table_exists

        if not delta_table_exists(self.path):
            return 0
        journal = self.read_journal()
        if journal is not None and "last_seq" in journal:
            return int(journal["last_seq"])
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
            "message": redact(message),
            "level": level,
            "maturity_level": maturity_level,
            "error": redact(json.dumps(error, sort_keys=True)) if error else None,
            "details": redact(json.dumps({event_type: details}, sort_keys=True, default=str)),
            "event_type": event_type,
        }
        with self._lock:
            self._buffer.append(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.debug("event listener failed", exc_info=True)
        if maturity_level == "STABLE" and event_type != "hook_progress":
            if self._hook_states:
                self._hook_queue.put(event)
            else:
                self._before_hooks.append(event)
        return event

    def flush(self) -> int:
        """Append buffered events to the Delta table (one commit). Returns how many were written."""
        with self._write_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return 0
            # Write-ahead: the journal never lags the table, so sequence numbers stay unique even if
            # the process dies between the two writes (a gap is harmless, a repeat is not).
            self._write_journal(last_seq=max(r["sequence"]["data_plane_id"]["seq_no"] for r in rows))
            crash_point("event_log:after_journal")
            background = threading.current_thread() is self._flush_thread
            scope = "background:event_log" if background else None
            with timed("event_log_write", self.profile, scope):
                self._frame(rows).write.format("delta").mode("append").save(self.path)
            crash_point("event_log:after_append")
            return len(rows)

    def _frame(self, rows: list[dict[str, Any]]) -> Any:
        """The rows as a DataFrame through Arrow (no Python worker process is started for it)."""
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema
        from pyspark.sql.types import _parse_datatype_string

        schema = _parse_datatype_string(EVENT_LOG_DDL)
        table = pa.Table.from_pylist(
            [{name: r[name] for name in schema.fieldNames()} for r in rows], schema=to_arrow_schema(schema)
        )
        return self.spark.createDataFrame(table)

    def flush_soon(self) -> None:
        """Ask the background writer to flush (flows keep running while the events are written)."""
        if self._flush_thread is None:
            self._flush_thread = threading.Thread(
                target=self._background_flush, name="dlt-event-log-writer", daemon=True
            )
            self._flush_thread.start()
        self._flush_wanted.set()

    def _background_flush(self) -> None:
        while True:
            self._flush_wanted.wait()
            if self._flush_stop:
                return
            # Coalesce: the events of flows that finish within the next interval share one commit
            # (each commit costs a Spark job and a Delta log write competing with the flows for cores).
            self._flush_stopping.wait(self.flush_interval_s)
            self._flush_wanted.clear()
            if self._flush_stop:
                return
            try:
                self.flush()
            except Exception as exc:  # reported by the final synchronous flush
                self._flush_error = exc
                log.warning("event log background flush failed: %s", exc)

    def stop_background_flush(self) -> None:
        """Wait for the background writer to finish; the caller's next flush() writes the rest."""
        if self._flush_thread is not None:
            self._flush_stop = True
            self._flush_stopping.set()
            self._flush_wanted.set()
            self._flush_thread.join()
            self._flush_thread = None
            self._flush_stop = False
            self._flush_stopping.clear()

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
                    origin={"update_id": (event.get("origin") or {}).get("update_id")},
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
        self.stop_background_flush()
        if self._hook_thread is not None:
            self.drain_hooks()
            self._hook_queue.put(None)
            self._hook_thread.join(timeout=5)
            self._hook_thread = None
