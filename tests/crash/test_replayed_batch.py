"""A micro-batch Delta committed but the stream's checkpoint did not (a process killed in between).

Structured Streaming replays that batch on the next update; Delta skips the write (txnAppId /
txnVersion) without running the query, so the expectation `Observation` of the batch is never
filled. Before the fix the next update waited for it forever. The state after such a crash is made
here without a kill (the checkpoint's last ``commits/N`` file removed), in-process, in seconds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.pipeline import LocalPipeline

pytestmark = pytest.mark.spark

SOURCE = """
import dlt

@dlt.table(name="events")
@dlt.expect_or_drop("positive", "n > 0")
def events():
    return spark.readStream.format("json").schema("id STRING, n INT").load("{landing}")
"""


def _land(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _run_bounded(pipeline: LocalPipeline, seconds: float = 600.0) -> Any:
    """The update's result, or a failure naming the hang instead of a test run that never ends."""
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(pipeline.run()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"the update did not finish within {seconds:.0f} s (replayed batch waiting for its counts?)"
    return box[0]


def test_replayed_batch_skipped_by_delta_neither_hangs_nor_duplicates(spark: Any, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    root = tmp_path / "src"
    (root / "transformations").mkdir(parents=True)
    (root / "transformations" / "events.py").write_text(SOURCE.replace("{landing}", str(landing)))
    settings = {
        "name": "replay",
        "catalog": "main",
        "schema": "replay",
        "libraries": [{"glob": {"include": "transformations/**"}}],
    }
    pipeline = LocalPipeline(root, settings, state=tmp_path / "state", spark=spark)

    _land(landing, "a.json", [{"id": "a1", "n": 1}, {"id": "a2", "n": 2}, {"id": "a3", "n": -1}])
    assert pipeline.run().status == "COMPLETED"
    _land(landing, "b.json", [{"id": "b1", "n": 3}, {"id": "b2", "n": 0}])
    second = pipeline.run()
    assert second.status == "COMPLETED", second.error
    assert second.flows["events"].num_output_rows == 1

    commits = pipeline.layout.checkpoints_dir("replay") / "events" / "events" / "commits"
    last = max((p for p in commits.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    last.unlink()  # Delta has batch N, the checkpoint does not: what SIGKILL between the two leaves
    (commits / f".{last.name}.crc").unlink(missing_ok=True)  # Hadoop's checksum file goes with it

    third = _run_bounded(pipeline)
    assert third.status == "COMPLETED", third.error
    flow = third.flows["events"]
    assert (flow.num_output_rows, flow.dropped_records) == (0, 0)  # the crashed update wrote it
    ids = sorted(r["id"] for r in pipeline.table("events").collect())
    assert ids == ["a1", "a2", "b1"]
    assert (commits / last.name).is_file()  # the replayed batch is committed now

    _land(landing, "c.json", [{"id": "c1", "n": 5}])
    fourth = _run_bounded(pipeline)
    assert fourth.flows["events"].num_output_rows == 1
    assert pipeline.table("events").count() == 4
