"""Which flows of an update may start now (pure; unit-tested without Spark).

Databricks runs a flow once every flow it reads from has finished, independent flows concurrently
up to a limit, and skips (SKIPPED) every flow downstream of a failed one while the others finish.
The runner asks `step()` what to start and what to skip, and reports each finished flow with
`finish()`. Decisions follow the given execution order, so the schedule is deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: the flow concurrency when neither the caller nor HARNESS_MAX_CONCURRENT_FLOWS says otherwise
MAX_FLOWS_ENV = "HARNESS_MAX_CONCURRENT_FLOWS"


def default_max_concurrent_flows(cores: int | None = None) -> int:
    """Flows at once: one per core, at least 2 (a flow also waits on Delta log I/O part of its time).

    On 2 cores, 2 at once beat 3 on each update of the reference pipeline (docs/performance.md).
    HARNESS_MAX_CONCURRENT_FLOWS overrides it.
    """
    configured = os.environ.get(MAX_FLOWS_ENV)
    if configured:
        return max(1, int(configured))
    return max(2, cores if cores is not None else (os.cpu_count() or 1))


@dataclass
class FlowScheduler:
    """The state of one update's flows: pending, running, finished, failed (skipped counts as failed)."""

    order: list[str]
    upstream: Mapping[str, Iterable[str]]
    done: set[str] = field(default_factory=set)
    max_concurrent: int = 3

    def __post_init__(self) -> None:
        self.pending = list(self.order)
        self.running: set[str] = set()
        self.failed: set[str] = set()
        self._upstream = {name: frozenset(self.upstream.get(name, ())) for name in self.order}

    @property
    def idle(self) -> bool:
        """Nothing left to start and nothing running: the update's flows are over."""
        return not self.pending and not self.running

    def step(self) -> tuple[list[str], list[str]]:
        """(start, skip): flows to start now and flows to skip because an upstream flow failed.

        Started flows count as running until `finish()`; skipped ones count as failed, so their own
        downstream flows are skipped too.
        """
        start: list[str] = []
        skip: list[str] = []
        for name in list(self.pending):
            upstream = self._upstream[name]
            if upstream & self.failed:
                self.pending.remove(name)
                self.failed.add(name)
                skip.append(name)
            elif upstream <= self.done and len(self.running) < max(1, self.max_concurrent):
                self.pending.remove(name)
                self.running.add(name)
                start.append(name)
        return start, skip

    def finish(self, name: str, failed: bool) -> None:
        self.running.discard(name)
        (self.failed if failed else self.done).add(name)


__all__ = ["MAX_FLOWS_ENV", "FlowScheduler", "default_max_concurrent_flows"]
