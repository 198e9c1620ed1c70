"""How the next update closes updates a killed process left open (the event log's journal).

The states a SIGKILL leaves are made here directly in the journal (in-process, seconds): an update
that died before the event log table existed, one that died mid-run, and one killed after its
terminal event was committed but before the journal was updated. Each update must end with exactly
one terminal state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.pipeline import LocalPipeline

pytestmark = pytest.mark.spark

SOURCE = """
import dlt

@dlt.table(name="numbers")
def numbers():
    return spark.range(3)
"""


def _pipeline(spark: Any, base: Path) -> LocalPipeline:
    root = base / "src"
    (root / "transformations").mkdir(parents=True)
    (root / "transformations" / "numbers.py").write_text(SOURCE)
    settings = {
        "name": "crashed",
        "catalog": "main",
        "schema": "crashed",
        "libraries": [{"glob": {"include": "transformations/**"}}],
    }
    return LocalPipeline(root, settings, state=base / "state", spark=spark)


def _journal(pipeline: LocalPipeline) -> Path:
    events = pipeline.layout.event_log_dir("crashed")
    return events.parent / (events.name + "_journal.json")


def _open(pipeline: LocalPipeline, *update_ids: str) -> None:
    path = _journal(pipeline)
    journal = json.loads(path.read_text()) if path.is_file() else {"last_seq": 0, "open_updates": []}
    journal["open_updates"] = [*journal["open_updates"], *update_ids]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(journal))


def _terminals(pipeline: LocalPipeline) -> dict[str, list[tuple[str, str | None]]]:
    rows = (
        pipeline.event_log()
        .where("event_type = 'update_progress'")
        .selectExpr(
            "origin.update_id AS u",
            "get_json_object(details, '$.update_progress.state') AS s",
            "get_json_object(error, '$.exceptions[0].class_name') AS c",
        )
        .where("s IN ('COMPLETED', 'FAILED', 'CANCELED')")
        .collect()
    )
    out: dict[str, list[tuple[str, str | None]]] = {}
    for row in rows:
        out.setdefault(row["u"], []).append((row["s"], row["c"]))
    return out


def test_open_updates_are_closed_once_and_finished_ones_are_not_failed(spark: Any, tmp_path: Path) -> None:
    pipeline = _pipeline(spark, tmp_path)
    # killed before the event log table existed: only the journal knows the update
    _open(pipeline, "killed-before-any-event")
    first = pipeline.run()
    assert first.status == "COMPLETED", first.error
    # the first update finished; pretend it was killed right after its COMPLETED event was committed,
    # and that another one died mid-run
    _open(pipeline, first.update_id, "killed-mid-run")
    second = pipeline.run()
    assert second.status == "COMPLETED", second.error

    terminals = _terminals(pipeline)
    crashed = ("FAILED", "UpdateTerminatedUnexpectedly")
    assert terminals["killed-before-any-event"] == [crashed]
    assert terminals["killed-mid-run"] == [crashed]
    assert terminals[first.update_id] == [("COMPLETED", None)]
    assert terminals[second.update_id] == [("COMPLETED", None)]
    assert json.loads(_journal(pipeline).read_text())["open_updates"] == []
