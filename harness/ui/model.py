"""What the pipeline page shows, computed from the event log alone (pure: events in, records out).

- `updates`: one row per update (create_update + its update_progress states = phase timings);
- `pipeline_graph`: datasets and read edges from the newest update that defined them
  (dataset_definition / flow_definition), each node with its flows' newest status and counts;
- `flow_history`: one flow's terminal flow_progress in every update;
- `filter_events`: the event table's filters.

The event log is the one source: the same facts a Databricks pipeline page reads, so what the page
shows is what `harness sql "SELECT ... FROM event_log"` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.runtime.results import TERMINAL_FLOW_STATES
from harness.ui.events import Event, iso

TERMINAL_UPDATE_STATES = ("COMPLETED", "FAILED", "CANCELED")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


# --- updates ----------------------------------------------------------------------------------------


def refresh_kind(details: dict[str, Any]) -> str:
    """Databricks' wording for what an update refreshed."""
    if details.get("full_refresh"):
        return "full refresh"
    if details.get("full_refresh_selection"):
        return "full refresh selection: " + ", ".join(details["full_refresh_selection"])
    if details.get("refresh_selection"):
        return "refresh selection: " + ", ".join(details["refresh_selection"])
    return "incremental"


def updates(events: Sequence[Event], now: datetime) -> list[dict[str, Any]]:
    """Every update, newest first: id, start, duration, state, refresh kind, phases, error."""
    by_id: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for event in events:
        uid = event.update_id
        if not uid or event.event_type not in ("create_update", "update_progress"):
            continue
        if uid not in by_id:
            by_id[uid] = {"update_id": uid, "start": event.timestamp, "phases": [], "state": "QUEUED"}
            order.append(uid)
        update = by_id[uid]
        if event.event_type == "create_update":
            update["start"] = event.timestamp
            update["refresh"] = refresh_kind(event.details)
            update["full_refresh"] = bool(event.details.get("full_refresh"))
            update["cause"] = event.details.get("cause")
            update["configuration"] = (event.details.get("config") or {}).get("configuration", {})
            continue
        state = event.details.get("state")
        if not state or event.level == "WARN":  # warnings carry the phase they happened in
            continue
        phases = update["phases"]
        if not phases or phases[-1]["state"] != state:
            phases.append({"state": state, "start": event.timestamp})
        update["state"] = state
        if state in TERMINAL_UPDATE_STATES:
            update["end"] = event.timestamp
            update["error"] = event.error_text()
    out = []
    for uid in reversed(order):
        update = by_id[uid]
        end = update.get("end")
        phases = update["phases"]
        for phase, following in zip(phases, [*phases[1:], None], strict=True):
            stop = following["start"] if following else (None if end else now)
            phase["seconds"] = (
                _seconds(phase["start"], stop) if phase["state"] not in TERMINAL_UPDATE_STATES else None
            )
            phase["start"] = iso(phase["start"])
        out.append(
            {
                "update_id": uid,
                "start": iso(update["start"]),
                "end": iso(end),
                "duration_s": _seconds(update["start"], end or now),
                "state": update["state"],
                "running": end is None,
                "refresh": update.get("refresh", "incremental"),
                "full_refresh": update.get("full_refresh", False),
                "cause": update.get("cause"),
                "phases": [p for p in phases if p["state"] not in TERMINAL_UPDATE_STATES],
                "error": update.get("error"),
                "configuration": update.get("configuration", {}),
            }
        )
    return out


# --- flows --------------------------------------------------------------------------------------------


@dataclass
class FlowRun:
    """One flow in one update: its newest state and, once terminal, its counts."""

    flow: str
    dataset: str | None
    update_id: str
    status: str = "QUEUED"
    started: datetime | None = None
    ended: datetime | None = None
    duration_s: float | None = None
    rows: int | None = None
    upserted: int | None = None
    deleted: int | None = None
    files_read: int | None = None
    bytes_read: int | None = None
    dropped: int | None = None
    expectations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def apply(self, event: Event) -> None:
        status = event.details.get("status")
        if event.level == "WARN" or not status:
            return
        self.status = status
        if status == "RUNNING" and self.started is None:
            self.started = event.timestamp
        if status in TERMINAL_FLOW_STATES:
            self.ended = event.timestamp
        metrics = event.details.get("metrics") or {}
        if metrics:
            self.rows = metrics.get("num_output_rows")
            self.upserted = metrics.get("num_upserted_rows")
            self.deleted = metrics.get("num_deleted_rows")
            self.files_read = metrics.get("num_files_read")
            self.bytes_read = metrics.get("num_bytes_read")
        quality = event.details.get("data_quality") or {}
        if quality:
            self.dropped = quality.get("dropped_records")
            self.expectations = [
                {
                    "name": e.get("name"),
                    "dataset": e.get("dataset"),
                    "passed": e.get("passed_records"),
                    "failed": e.get("failed_records"),
                }
                for e in quality.get("expectations") or []
            ]
        if "duration_ms" in event.details:
            self.duration_s = round(event.details["duration_ms"] / 1000, 3)
        elif status in TERMINAL_FLOW_STATES and self.started:
            self.duration_s = _seconds(self.started, event.timestamp)
        if status == "FAILED":
            self.error = event.error_text() or event.message

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "dataset": self.dataset,
            "update_id": self.update_id,
            "status": self.status,
            "start": iso(self.started),
            "duration_s": self.duration_s,
            "rows": self.rows,
            "upserted": self.upserted,
            "deleted": self.deleted,
            "files_read": self.files_read,
            "bytes_read": self.bytes_read,
            "dropped": self.dropped,
            "expectations": self.expectations,
            "error": self.error,
        }


def flow_runs(events: Iterable[Event]) -> dict[tuple[str, str], FlowRun]:
    """(update id, flow) -> its run, from flow_progress events, in update order."""
    runs: dict[tuple[str, str], FlowRun] = {}
    for event in events:
        if event.event_type != "flow_progress" or not event.flow_name or not event.update_id:
            continue
        key = (event.update_id, event.flow_name)
        run = runs.get(key)
        if run is None:
            run = runs[key] = FlowRun(event.flow_name, event.dataset_name, event.update_id)
        run.apply(event)
    return runs


def flow_history(events: Sequence[Event], flow: str) -> list[dict[str, Any]]:
    """One flow's run in every update that mentions it, oldest first."""
    return [run.as_json() for (_, name), run in flow_runs(events).items() if name == flow]


# --- graph ----------------------------------------------------------------------------------------------


@dataclass
class GraphNode:
    name: str
    kind: str  # STREAMING_TABLE | MATERIALIZED_VIEW | VIEW | SINK | EXTERNAL
    flows: list[str] = field(default_factory=list)
    status: str = "NOT_RUN"
    update_id: str | None = None
    rows: int | None = None
    dropped: int | None = None
    passed: int = 0
    failed: int = 0
    error: str | None = None
    failed_flow: str | None = None

    @property
    def pass_rate(self) -> float | None:
        total = self.passed + self.failed
        return round(self.passed / total, 4) if total else None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "flows": self.flows,
            "status": self.status,
            "update_id": self.update_id,
            "rows": self.rows,
            "dropped": self.dropped,
            "pass_rate": self.pass_rate,
            "passed": self.passed,
            "failed": self.failed,
            "error": self.error,
            "failed_flow": self.failed_flow,
        }


@dataclass
class GraphView:
    nodes: dict[str, GraphNode]
    edges: list[tuple[str, str]]
    defined_in: str | None  # the update whose definitions drew the graph

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": [n.as_json() for n in self.nodes.values()],
            "edges": [list(e) for e in self.edges],
            "defined_in": self.defined_in,
        }


#: How a node's flows' statuses combine: the first present in this order wins.
_STATUS_PRECEDENCE = (
    "FAILED",
    "RUNNING",
    "STARTING",
    "QUEUED",
    "SKIPPED",
    "STOPPED",
    "COMPLETED",
    "IDLE",
    "EXCLUDED",
)


def pipeline_graph(events: Sequence[Event]) -> GraphView:
    """Datasets and edges from the newest update with definitions; statuses from each flow's newest run."""
    defined_in = None
    for event in reversed(events):
        if event.event_type == "dataset_definition" and event.update_id:
            defined_in = event.update_id
            break
    nodes: dict[str, GraphNode] = {}
    edges: set[tuple[str, str]] = set()
    flow_target: dict[str, str] = {}
    for event in events:
        if event.update_id != defined_in:
            continue
        if event.event_type == "dataset_definition":
            name = event.details.get("dataset_name") or event.dataset_name or "?"
            nodes[name] = GraphNode(name, str(event.details.get("dataset_type") or "TABLE"))
        elif event.event_type == "flow_definition" and event.flow_name:
            target = event.details.get("output_dataset") or event.dataset_name
            if target:
                flow_target[event.flow_name] = target
                edges.update((source, target) for source in event.details.get("input_datasets") or [])
    for source, target in sorted(edges):
        for name in (source, target):
            nodes.setdefault(name, GraphNode(name, "EXTERNAL"))
    for flow, target in sorted(flow_target.items()):
        nodes[target].flows.append(flow)
    newest: dict[str, tuple[int, FlowRun]] = {}
    for index, ((_, flow), run) in enumerate(flow_runs(events).items()):  # later updates win
        if run.status != "EXCLUDED" or flow not in newest:
            newest[flow] = (index, run)
    for node in nodes.values():
        _summarise(node, [run for _, run in sorted(newest[f] for f in node.flows if f in newest)])
    return GraphView(dict(sorted(nodes.items())), sorted(edges), defined_in)


def _summarise(node: GraphNode, runs: list[FlowRun]) -> None:
    if not runs:
        return
    statuses = {r.status for r in runs}
    node.status = next((s for s in _STATUS_PRECEDENCE if s in statuses), runs[-1].status)
    node.update_id = runs[-1].update_id  # runs come oldest update first
    written = [r.rows if r.rows is not None else r.upserted for r in runs]
    node.rows = sum(w for w in written if w is not None) if any(w is not None for w in written) else None
    dropped = [r.dropped for r in runs if r.dropped is not None]
    node.dropped = sum(dropped) if dropped else None
    for run in runs:
        for expectation in run.expectations:
            node.passed += expectation.get("passed") or 0
            node.failed += expectation.get("failed") or 0
        if run.status == "FAILED" and node.error is None:
            node.error, node.failed_flow = run.error, run.flow


# --- the event table ----------------------------------------------------------------------------------


def filter_events(
    events: Sequence[Event],
    *,
    level: str | None = None,
    event_type: str | None = None,
    flow: str | None = None,
    update: str | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """Newest first, each filter exact; also the values each filter can take (for the page's menus)."""
    matching = [
        e
        for e in events
        if (not level or e.level == level)
        and (not event_type or e.event_type == event_type)
        and (not flow or e.flow_name == flow)
        and (not update or e.update_id == update)
    ]
    return {
        "total": len(matching),
        "events": [e.as_json() for e in reversed(matching[-limit:])] if limit > 0 else [],
        "choices": {
            "level": sorted({e.level for e in events}),
            "event_type": sorted({e.event_type for e in events}),
            "flow": sorted({e.flow_name for e in events if e.flow_name}),
            "update": list(dict.fromkeys(e.update_id for e in reversed(events) if e.update_id)),
        },
    }
