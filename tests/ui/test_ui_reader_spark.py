"""Issue 18: the page's JVM-free reader against event logs Delta itself wrote, and live following.

The oracle is Spark + Delta reading the same table. The table is compacted (OPTIMIZE: every earlier
file removed) and checkpointed (delta.checkpointInterval=2) first, so the reader must honour
`remove` actions and start from a checkpoint, as it would on a long-lived state directory.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.pipeline import LocalPipeline
from harness.state import StateLayout
from harness.ui import StateData
from harness.ui.delta_reader import DeltaTableReader

pytestmark = pytest.mark.spark


def test_reader_matches_delta_after_optimize_and_checkpoint(
    spark: Any, two_updates: Any, tmp_path: Path
) -> None:
    pipeline, _, _ = two_updates
    copy = tmp_path / "events"
    shutil.copytree(pipeline.runtime.event_log_path, copy)
    spark.sql(f"ALTER TABLE delta.`{copy}` SET TBLPROPERTIES ('delta.checkpointInterval' = '2')")
    spark.sql(f"OPTIMIZE delta.`{copy}`")
    log = copy / "_delta_log"
    commits = [
        json.loads(line) for f in sorted(log.glob("*.json")) for line in f.read_text().splitlines() if line
    ]
    assert any("remove" in action for action in commits), "OPTIMIZE removed no file: the test proves nothing"
    assert list(log.glob("*.checkpoint*.parquet")), "no checkpoint written"
    expected = sorted(r["id"] for r in spark.read.format("delta").load(str(copy)).select("id").collect())
    latest = spark.sql(f"DESCRIBE HISTORY delta.`{copy}`").selectExpr("max(version) AS v").first()["v"]
    version, rows = DeltaTableReader(copy).rows()
    assert version == latest
    assert sorted(r["id"] for r in rows) == expected
    assert len(rows) == len(pipeline.event_log().collect())


LIVE_SOURCE = """
import dlt

@dlt.table
def numbers():
    return spark.range(3)
"""


def test_the_page_sees_an_update_while_it_runs(spark: Any, tmp_path: Path) -> None:
    """A listener looks at the page's data the moment the first flow is queued (mid-update)."""
    root = tmp_path / "src"
    root.mkdir()
    (root / "numbers.py").write_text(textwrap.dedent(LIVE_SOURCE))
    settings = {
        "name": "ui_live",
        "catalog": "main",
        "schema": "ui_live",
        "libraries": [{"file": {"path": "numbers.py"}}],
    }
    seen: list[dict[str, Any]] = []
    data = StateData(StateLayout.at(tmp_path / "state"))

    def look(event: dict[str, Any]) -> None:
        if event["event_type"] == "flow_progress" and not seen:
            seen.append(data.pipeline("ui_live").overview())

    pipeline = LocalPipeline(root, settings, state=tmp_path / "state", spark=spark, listeners=[look])
    result = pipeline.run()
    assert result.status == "COMPLETED"
    during = seen[0]["updates"][0]
    assert during["update_id"] == result.update_id and during["running"] is True
    assert during["state"] == "SETTING_UP_TABLES"  # what was committed before the flows started
    after = data.pipeline("ui_live").overview()
    assert after["version"] > seen[0]["version"]
    assert after["updates"][0]["state"] == "COMPLETED" and after["updates"][0]["running"] is False
    assert {n["name"]: (n["status"], n["rows"]) for n in after["graph"]["nodes"]} == {
        "numbers": ("COMPLETED", 3)
    }
