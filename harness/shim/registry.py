"""The one registry that owns a pipeline's declarations while its source files are loaded.

Decorators of the `dlt` shim (and pyspark.pipelines through its own registration hook) hand
records to the *active* registry, set by `registration_context`. Outside that context a decorator
raises `OutsidePipelineError`, as pyspark.pipelines does, so unit tests call transformation
functions directly instead of importing decorated modules by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from harness.errors import DuplicateDatasetError, OutsidePipelineError
from harness.shim.records import (
    AnyFlow,
    DatasetDef,
    EventHookDef,
)


@dataclass
class PipelineRegistry:
    """Datasets, flows and event hooks declared by one pipeline, in declaration order."""

    datasets: dict[str, DatasetDef] = field(default_factory=dict)
    flows: dict[str, AnyFlow] = field(default_factory=dict)
    hooks: list[EventHookDef] = field(default_factory=list)
    #: dataset name -> expectations declared on the dataset's default flow (kept on the flow too)
    warnings: list[str] = field(default_factory=list)

    def add_dataset(self, dataset: DatasetDef) -> None:
        existing = self.datasets.get(dataset.name)
        if existing is not None:
            raise DuplicateDatasetError(
                dataset.name, "dataset", str(existing.location), str(dataset.location)
            )
        self.datasets[dataset.name] = dataset

    def add_flow(self, flow: AnyFlow) -> None:
        existing = self.flows.get(flow.name)
        if existing is not None:
            raise DuplicateDatasetError(flow.name, "flow", str(existing.location), str(flow.location))
        self.flows[flow.name] = flow

    def add_hook(self, hook: EventHookDef) -> None:
        self.hooks.append(hook)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


_active: ContextVar[PipelineRegistry | None] = ContextVar("harness_active_registry", default=None)


@contextmanager
def registration_context(registry: PipelineRegistry) -> Iterator[PipelineRegistry]:
    token = _active.set(registry)
    try:
        yield registry
    finally:
        _active.reset(token)


def active_registry(api: str) -> PipelineRegistry:
    registry = _active.get()
    if registry is None:
        raise OutsidePipelineError(api)
    return registry
