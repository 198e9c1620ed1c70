"""Per-run and per-flow context shared by the shim, the read interception and the runner.

Context variables (not globals) so that flows running concurrently in threads each see their own
"which dataset function am I evaluating" frame, and code outside a harness run sees nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol


class Resolver(Protocol):
    """What pipeline code reaches through dlt.read / spark.read.table / spark.readStream.format('cloudFiles')."""

    def read(self, name: str, streaming: bool, reader: Any = None) -> Any: ...

    def cloud_files(self, path: str, options: dict[str, str], schema: Any) -> Any: ...

    def map_path(self, path: str) -> str: ...

    def rewrite_sql(self, query: str) -> str: ...


@dataclass(frozen=True)
class EvaluationFrame:
    """The dataset function being evaluated right now (forbidden actions are refused inside it)."""

    dataset: str
    flow: str
    location: str


_resolver: ContextVar[Resolver | None] = ContextVar("harness_resolver", default=None)
_frame: ContextVar[EvaluationFrame | None] = ContextVar("harness_evaluation_frame", default=None)


def current_resolver() -> Resolver | None:
    return _resolver.get()


def current_frame() -> EvaluationFrame | None:
    return _frame.get()


@contextmanager
def resolving_with(resolver: Resolver) -> Iterator[None]:
    token = _resolver.set(resolver)
    try:
        yield
    finally:
        _resolver.reset(token)


@contextmanager
def evaluating(frame: EvaluationFrame) -> Iterator[None]:
    token = _frame.set(frame)
    try:
        yield
    finally:
        _frame.reset(token)


@contextmanager
def outside_dataset_function() -> Iterator[None]:
    """Harness code that runs actions on behalf of a flow (e.g. writes) clears the frame."""
    token = _frame.set(None)
    try:
        yield
    finally:
        _frame.reset(token)


@dataclass(frozen=True)
class SourceRef:
    """The n-th `cloudFiles` source a flow's function opens (0-based), in the order it opens them.

    Auto Loader's default schema location and the streaming query's observed-metrics name are per
    source; the same function opens its sources in the same order at analysis and at execution.
    """

    flow: str
    index: int

    def observed_name(self, path: str) -> str:
        """observedMetrics names must be unique within one streaming query: flow + source index is."""
        return f"{self.flow} ({path})" if self.index == 0 else f"{self.flow}#{self.index} ({path})"


class UpdateServices(Protocol):
    """What the graph builder and the execution resolver need from the update that runs them."""

    def locate(self, key: str, dataset: Any) -> Any: ...

    def cloud_files(self, path: str, options: dict[str, str], schema: Any, source: SourceRef) -> Any: ...

    def map_path(self, path: str) -> str: ...

    def cdc_schema(self, source_schema: Any, spec: Any) -> Any: ...

    def existing_schema(self, dataset: Any) -> Any: ...
