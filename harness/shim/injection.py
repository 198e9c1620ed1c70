"""Make the shim visible as `dlt` only while the harness loads a pipeline.

``sys.modules["dlt"]`` is set to `harness.shim.dlt_api` for the duration of the context and the
previous entry (an installed dltHub `dlt`, Databricks' stub, or nothing) is restored afterwards.
Pipeline modules keep the reference they imported, so `dlt.read(...)` inside dataset functions
keeps working when the runner calls them later.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from harness.shim import dlt_api
from harness.shim.dp_bridge import dp_capture
from harness.shim.registry import PipelineRegistry, registration_context

_MISSING = object()


@contextmanager
def dlt_visible(registry: PipelineRegistry) -> Iterator[PipelineRegistry]:
    previous = sys.modules.get("dlt", _MISSING)
    sys.modules["dlt"] = dlt_api  # type: ignore[assignment]
    try:
        with registration_context(registry), dp_capture(registry):
            yield registry
    finally:
        if previous is _MISSING:
            with suppress(KeyError):
                del sys.modules["dlt"]
        else:
            sys.modules["dlt"] = previous  # type: ignore[assignment]
