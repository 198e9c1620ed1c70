"""Where an update's time goes: per phase and per flow, wall time, Spark jobs and stages, and time in
the harness's known fixed costs (metastore calls, Delta log reads, Observations, event-log writes).

Jobs are counted without a Python `SparkListener` (no py4j callback thread): every phase and every
flow tags the Spark jobs its thread starts (`SparkContext.addJobTag`; a streaming query's thread
inherits the tags of the thread that started it), and `SparkStatusTracker.getJobIdsForTag` counts
them once the update is over. Timers are attributed to the scope (phase or flow) of the calling
context (a context variable, copied into each flow's thread); code on the harness's own background
threads (the event-log writer) passes its scope explicitly.

The profile of each update is kept in the event log (`event_type = 'harness_profile'`, a harness
extension Databricks does not have) and printed by `harness run --profile`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

#: the timed costs, in the order they are printed
CATEGORIES = ("metastore", "delta_log", "observation", "event_log_write")
BACKGROUND = "background"


@dataclass
class ScopeProfile:
    """One phase or one flow: wall seconds, Spark jobs and stages, seconds per timed category."""

    name: str
    kind: str  # "phase" | "flow" | "background"
    wall_s: float = 0.0
    jobs: int = 0
    stages: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    tag: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "wall_ms": round(self.wall_s * 1000),
            "jobs": self.jobs,
            "stages": self.stages,
            "ms": {k: round(v * 1000) for k, v in sorted(self.seconds.items())},
            "calls": dict(sorted(self.calls.items())),
        }


_active: ContextVar[tuple[UpdateProfile, str] | None] = ContextVar("harness_profile_scope", default=None)


def _tag_safe(text: str) -> str:
    """Spark job tags may not contain commas; keep them short and readable."""
    return re.sub(r"[^A-Za-z0-9_.#-]+", "_", text)[:120]


class UpdateProfile:
    """Collects one update's profile; thread-safe (flows run concurrently)."""

    def __init__(self, spark: Any, update_id: str) -> None:
        self.spark = spark
        self.update_id = update_id
        self.scopes: dict[str, ScopeProfile] = {}
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self.total_s = 0.0

    def _scope(self, key: str, kind: str) -> ScopeProfile:
        with self._lock:
            scope = self.scopes.get(key)
            if scope is None:
                scope = self.scopes[key] = ScopeProfile(key.split(":", 1)[1], kind)
            return scope

    @contextmanager
    def _tagged(self, key: str, kind: str) -> Iterator[ScopeProfile]:
        scope = self._scope(key, kind)
        scope.tag = scope.tag or _tag_safe(f"harness-{self.update_id[:8]}-{key}")
        context = _sc(self.spark)
        if context is not None:
            try:
                context.addJobTag(scope.tag)
            except Exception:  # Spark Connect has no SparkContext tags: wall time only
                context = None
        token = _active.set((self, key))
        started = time.perf_counter()
        try:
            yield scope
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                scope.wall_s += elapsed
            _active.reset(token)
            if context is not None:
                with suppress(Exception):
                    context.removeJobTag(scope.tag)

    def phase(self, name: str) -> Any:
        """Time a phase on the calling thread and tag the Spark jobs it starts."""
        return self._tagged(f"phase:{name}", "phase")

    def flow(self, name: str) -> Any:
        """Time a flow on its worker thread and tag the Spark jobs it (and its streams) start."""
        return self._tagged(f"flow:{name}", "flow")

    def add(self, category: str, seconds: float, scope: str | None = None) -> None:
        """Add timed seconds to ``scope`` (a key such as ``background:event_log``) or to the current one."""
        if scope is None:
            active = _active.get()
            key = active[1] if active is not None and active[0] is self else f"{BACKGROUND}:other"
        else:
            key = scope
        target = self._scope(key, key.split(":", 1)[0])
        with self._lock:
            target.seconds[category] = target.seconds.get(category, 0.0) + seconds
            target.calls[category] = target.calls.get(category, 0) + 1

    def finish(self) -> dict[str, Any]:
        """Count each scope's Spark jobs and stages; returns the profile as a JSON-able dict."""
        self.total_s = time.perf_counter() - self._started
        tracker = _tracker(self.spark)
        if tracker is not None:
            # The status store is filled by Spark's listener bus asynchronously; under load it lags
            # behind the jobs, and a count taken too early misses the last ones.
            with suppress(Exception):
                self.spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty(5000)
        for scope in self.scopes.values():
            if tracker is None or scope.tag is None:
                continue
            try:
                job_ids = list(tracker.getJobIdsForTag(scope.tag))
                stages = 0
                for job_id in job_ids:
                    info = tracker.getJobInfo(job_id)
                    if info.isDefined():
                        stages += len(info.get().stageIds())
                scope.jobs, scope.stages = len(job_ids), stages
            except Exception:
                continue
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        totals: dict[str, float] = {}
        for scope in self.scopes.values():
            for category, seconds in scope.seconds.items():
                totals[category] = totals.get(category, 0.0) + seconds
        return {
            "update_id": self.update_id,
            "total_ms": round(self.total_s * 1000),
            "jobs": sum(s.jobs for s in self.scopes.values()),
            "stages": sum(s.stages for s in self.scopes.values()),
            "ms": {k: round(v * 1000) for k, v in sorted(totals.items())},
            "scopes": [s.as_dict() for s in self.scopes.values()],
        }


@contextmanager
def timed(category: str, profile: UpdateProfile | None = None, scope: str | None = None) -> Iterator[None]:
    """Time a block into the active profile (or ``profile``/``scope`` from a background thread)."""
    active = _active.get()
    target = profile or (active[0] if active is not None else None)
    if target is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        target.add(category, time.perf_counter() - started, scope)


def _sc(spark: Any) -> Any:
    try:
        return spark.sparkContext
    except Exception:
        return None


def _tracker(spark: Any) -> Any:
    context = _sc(spark)
    if context is None:
        return None
    try:
        return context._jsc.sc().statusTracker()
    except Exception:
        return None


def format_profile(profile: dict[str, Any]) -> str:
    """The profile as a table: one line per phase, then one per flow, then the totals."""
    columns = ("wall_s", "jobs", "stages", *CATEGORIES)
    header = f"{'scope':<42} " + " ".join(f"{c:>15}" if c in CATEGORIES else f"{c:>7}" for c in columns)
    lines = [header]

    def row(label: str, wall_ms: int, jobs: int, stages: int, ms: dict[str, int]) -> str:
        cells = [f"{wall_ms / 1000:>7.2f}", f"{jobs:>7}", f"{stages:>7}"]
        cells += [f"{ms.get(c, 0) / 1000:>15.2f}" for c in CATEGORIES]
        return f"{label:<42} " + " ".join(cells)

    order = {"phase": 0, "flow": 1, BACKGROUND: 2}
    for scope in sorted(profile["scopes"], key=lambda s: order.get(s["kind"], 3)):
        label = f"{scope['kind']} {scope['name']}"[:42]
        lines.append(row(label, scope["wall_ms"], scope["jobs"], scope["stages"], scope["ms"]))
    lines.append(
        row("total (update)", profile["total_ms"], profile["jobs"], profile["stages"], profile["ms"])
    )
    return "\n".join(lines)


__all__ = ["CATEGORIES", "UpdateProfile", "format_profile", "timed"]
