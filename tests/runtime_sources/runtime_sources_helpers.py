"""Helpers for pipeline-level tests of Databricks-only sources and flows (issue 4).

Each test module writes real pipeline modules (``import dlt`` as users write them) into a folder,
runs them with `LocalPipeline` on the shared Spark session, and reads back tables, the event log
and the per-flow results. Updates cost seconds, so modules build one pipeline per scenario in a
module-scoped fixture and record what each update returned (`Run`) for several tests to assert on.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.pipeline import LocalPipeline
from harness.runtime.results import UpdateResult

#: Deterministic, strictly increasing file modification times (seconds) for dropped files.
_CLOCK = [1_700_000_000]


def make_pipeline(
    spark: Any,
    base: Path,
    name: str,
    code: str,
    *,
    catalog: str = "main",
    configuration: Mapping[str, str] | None = None,
) -> LocalPipeline:
    """A pipeline named `name` (also its schema, so tables never collide) running one source file."""
    root = base / "src"
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.py").write_text(textwrap.dedent(code), encoding="utf-8")
    settings = {
        "name": name,
        "catalog": catalog,
        "schema": name,
        "libraries": [{"file": {"path": "pipeline.py"}}],
        "configuration": dict(configuration or {}),
    }
    return LocalPipeline(root, settings, state=base / "state", spark=spark, max_concurrent_flows=3)


def drop_file(directory: Path, name: str, content: str | bytes | Iterable[Mapping[str, Any]]) -> Path:
    """Land a file as writers must: hidden temp name first, then an atomic rename into place."""
    if not isinstance(content, str | bytes):
        content = "".join(json.dumps(record) + "\n" for record in content)
    data = content.encode("utf-8") if isinstance(content, str) else content
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".{name}.tmp"
    temp.write_bytes(data)
    _CLOCK[0] += 10
    os.utime(temp, (_CLOCK[0], _CLOCK[0]))
    final = directory / name
    temp.rename(final)
    return final


@dataclass(frozen=True)
class FlowEvent:
    """One flow_progress event of an update, with its details parsed."""

    flow: str
    status: str
    level: str
    message: str
    details: dict[str, Any]
    error: dict[str, Any] | None


def flow_events(pipeline: LocalPipeline, result: UpdateResult) -> list[FlowEvent]:
    """The flow_progress events of one update, in sequence order."""
    rows = (
        pipeline.event_log()
        .where(f"event_type = 'flow_progress' AND origin.update_id = '{result.update_id}'")
        .orderBy("sequence.data_plane_id.seq_no")
        .select("origin.flow_name", "level", "message", "details", "error")
        .collect()
    )
    events = []
    for row in rows:
        details = json.loads(row["details"])["flow_progress"]
        error = json.loads(row["error"]) if row["error"] else None
        events.append(
            FlowEvent(row["flow_name"], details.get("status"), row["level"], row["message"], details, error)
        )
    return events


def terminal_event(pipeline: LocalPipeline, result: UpdateResult, flow: str) -> FlowEvent:
    """The last flow_progress event of `flow` in the update (COMPLETED / FAILED / ...)."""
    matching = [e for e in flow_events(pipeline, result) if e.flow == flow and e.level != "WARN"]
    assert matching, f"no flow_progress event for {flow!r} in update {result.update_id}"
    return matching[-1]


def metrics(pipeline: LocalPipeline, result: UpdateResult, flow: str) -> dict[str, Any]:
    """details.flow_progress.metrics of the flow's terminal event in that update."""
    return dict(terminal_event(pipeline, result, flow).details.get("metrics") or {})


def table_rows(pipeline: LocalPipeline, name: str, columns: Iterable[str]) -> list[tuple[Any, ...]]:
    """Rows of a pipeline table as sorted tuples of the given columns (None sorts first)."""
    cols = list(columns)
    data = [tuple(row[c] for c in cols) for row in pipeline.table(name).select(*cols).collect()]
    return sorted(data, key=lambda r: tuple((v is not None, v) for v in r))


def delta_version(spark: Any, path: str) -> int:
    """The latest commit version of a Delta table."""
    return int(spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]["version"])
