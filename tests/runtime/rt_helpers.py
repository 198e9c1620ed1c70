"""Helpers for the issue-3 runtime tests: write a small pipeline, run it, read events back.

Updates cost seconds, so each test module builds one pipeline in a module-scoped fixture, runs its
updates once and lets several tests assert on what they produced.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.pipeline import LocalPipeline
from harness.runtime.results import UpdateResult


def make_pipeline(
    spark: Any,
    base: Path,
    name: str,
    files: Mapping[str, str],
    *,
    configuration: Mapping[str, str] | None = None,
    extra_settings: Mapping[str, Any] | None = None,
) -> LocalPipeline:
    """A pipeline `name` (catalog main, schema = name) whose sources are `files` under base/src."""
    root = base / "src"
    for rel, code in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code).lstrip(), encoding="utf-8")
    settings = {
        "name": name,
        "catalog": "main",
        "schema": name,
        "libraries": [{"glob": {"include": "transformations/**"}}],
        "configuration": dict(configuration or {}),
        **dict(extra_settings or {}),
    }
    return LocalPipeline(root, settings, state=base / "state", spark=spark, max_concurrent_flows=2)


def events(pipeline: LocalPipeline, result: UpdateResult, event_type: str) -> list[dict[str, Any]]:
    """Events of one type in one update, in sequence order, with details/error parsed."""
    rows = (
        pipeline.event_log()
        .where(f"event_type = '{event_type}' AND origin.update_id = '{result.update_id}'")
        .orderBy("sequence.data_plane_id.seq_no")
        .collect()
    )
    out = []
    for row in rows:
        event = row.asDict(recursive=True)
        event["details"] = json.loads(row["details"])[event_type]
        event["error"] = json.loads(row["error"]) if row["error"] else None
        out.append(event)
    return out


def flow_terminal(pipeline: LocalPipeline, result: UpdateResult, flow: str) -> dict[str, Any]:
    """The last flow_progress event of a flow in an update (its terminal state and metrics)."""
    matching = [
        e
        for e in events(pipeline, result, "flow_progress")
        if e["origin"]["flow_name"] == flow and e["level"] != "WARN"
    ]
    assert matching, f"no flow_progress for {flow!r}"
    return matching[-1]


def rows(df: Any, *columns: str) -> list[tuple[Any, ...]]:
    """Sorted tuples of the given columns (None first)."""
    data = [tuple(r[c] for c in columns) for r in df.select(*columns).collect()]
    return sorted(data, key=lambda t: tuple((v is not None, v) for v in t))


def detail(spark: Any, path: str) -> dict[str, Any]:
    """DESCRIBE DETAIL of a Delta table by path."""
    return spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0].asDict(recursive=True)


def version(spark: Any, path: str) -> int:
    return int(spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]["version"])


def write_json(directory: Path, name: str, records: list[dict[str, Any]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp.rename(directory / name)
