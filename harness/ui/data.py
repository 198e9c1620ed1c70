"""The page's read-only data access: which pipelines a state directory holds, and each one's views.

Every path the page touches is derived from the state directory (`StateLayout`) and checked to
stay inside it: a pipeline name from a request (``?pipeline=../../etc``) that resolves elsewhere
is refused with `OutsideStateDirError` before anything is read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import OutsideStateDirError, UnknownPipelineError
from harness.state import StateLayout, slug
from harness.ui import model, render
from harness.ui.events import EventSource


def inside(root: Path, path: Path) -> Path:
    """``path`` resolved, if it lies inside ``root``; else `OutsideStateDirError`."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise OutsideStateDirError(str(path), str(root))
    return resolved


class PipelineData:
    """The views of one pipeline's event log, recomputed only when the log's version changes."""

    def __init__(self, name: str, source: EventSource, clock: Callable[[], datetime]) -> None:
        self.name = name
        self.source = source
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[int, dict[str, Any]] | None = None
        self._svg: tuple[int, bytes] | None = None

    def version(self) -> int:
        return self.source.load()[0]

    def overview(self) -> dict[str, Any]:
        """Graph, updates and the log's version: what the page draws on each (re)load."""
        version, events = self.source.load()
        with self._lock:
            running = self._cached is not None and any(u["running"] for u in self._cached[1]["updates"])
            if self._cached is None or self._cached[0] != version or running:
                graph = model.pipeline_graph(events).as_json()
                for node in graph["nodes"]:
                    node["svg_id"] = render.node_id(node["name"])
                self._cached = (
                    version,
                    {
                        "pipeline": self.name,
                        "version": version,
                        "events": len(events),
                        "graph": graph,
                        "updates": model.updates(events, self.clock()),
                    },
                )
            return self._cached[1]

    def graph(self) -> model.GraphView:
        return model.pipeline_graph(self.source.load()[1])

    def graph_svg(self) -> bytes:
        """The graph laid out by Graphviz, once per event-log version (the page redraws every second while live)."""
        version, events = self.source.load()
        with self._lock:
            if self._svg is None or self._svg[0] != version:
                self._svg = (version, render.layout(model.pipeline_graph(events), "svg"))
            return self._svg[1]

    def flow(self, name: str) -> dict[str, Any]:
        version, events = self.source.load()
        return {"flow": name, "version": version, "runs": model.flow_history(events, name)}

    def events(self, **filters: Any) -> dict[str, Any]:
        version, events = self.source.load()
        return {"version": version, **model.filter_events(events, **filters)}


class StateData:
    """The pipelines of one state directory, each read from its event log on demand."""

    def __init__(
        self,
        layout: StateLayout,
        *,
        known_secrets: tuple[str, ...] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.layout = layout
        self.known_secrets = known_secrets
        self.clock = clock
        self._pipelines: dict[str, PipelineData] = {}
        self._lock = threading.Lock()

    def pipeline_names(self) -> list[str]:
        return [s for s in self.layout.pipeline_slugs() if self.layout.event_log_dir(s).parent.is_dir()]

    def default_pipeline(self, wanted: str | None = None) -> str:
        """The pipeline to show first: the one named, else the only one (or the newest when several)."""
        known = self.pipeline_names()
        if wanted is not None:
            if slug(wanted) not in known:
                raise UnknownPipelineError(str(self.layout.root), wanted, known)
            return slug(wanted)
        if not known:
            raise UnknownPipelineError(str(self.layout.root), None, known)
        return max(known, key=lambda s: self.layout.event_log_dir(s).parent.stat().st_mtime)

    def pipeline(self, name: str) -> PipelineData:
        """One pipeline's data; the name must be a known pipeline whose folder lies inside the state dir."""
        path = inside(self.layout.root, self.layout.pipelines_dir / name)
        if path.name not in self.pipeline_names() or path.name != name:
            raise UnknownPipelineError(str(self.layout.root), name, self.pipeline_names())
        with self._lock:
            if name not in self._pipelines:
                events = inside(self.layout.root, self.layout.event_log_dir(name))
                self._pipelines[name] = PipelineData(
                    name, EventSource(events, self.known_secrets), self.clock
                )
            return self._pipelines[name]
