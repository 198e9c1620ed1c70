"""Issue 16, points 1 and 2, with real `harness` processes: one update at a time per pipeline, a kill
during the very first start on a fresh state recovers, and the catalog outlives each process.

Four JVMs start here (a killed first run, the recovering run, two `harness sql`); the refused run
is turned away before it starts one.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from state_helpers import env, reap_group, run, start, tiny_pipeline, wait_for

from harness.runtime.crashpoints import KILL_MARKER
from harness.runtime.pipeline_lock import pipeline_lock
from harness.state import StateLayout

pytestmark = pytest.mark.spark


def _events(state: Path, name: str) -> list[dict]:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None
    path = StateLayout.at(state).event_log_dir(name)
    rows = (
        spark.read.format("delta")
        .load(str(path))
        .where("event_type = 'update_progress'")
        .selectExpr(
            "origin.update_id AS update_id", "get_json_object(details, '$.update_progress.state') AS s"
        )
        .collect()
    )
    return [r.asDict() for r in rows]


def test_second_run_refused_kill_in_first_start_recovers_and_catalog_outlives_processes(
    spark: object, tmp_path: Path
) -> None:
    root, settings = tiny_pipeline(tmp_path)
    state = tmp_path / "state"
    layout = StateLayout.at(state)
    common = ["--settings", str(settings), "--state", str(state)]

    # 1. a first run on a fresh state, killed (SIGKILL, JVM included) right after it wrote its
    #    first Delta table and before the catalog knew it; while it runs a second run is refused
    first = start(["run", str(root), *common], env(kill_at="after_replace:numbers"))
    try:
        wait_for(layout.pipeline_dir("state_demo") / "update.lock.json", first)
        refused = run(["run", str(root), *common], env())
        _, err = first.communicate(timeout=900)
    finally:
        reap_group(first.pid)
    assert first.returncode == -signal.SIGKILL, err[-3000:]
    # what the killed holder last wrote about itself (a SIGKILL leaves it; the lock is free)
    holder = json.loads((layout.pipeline_dir("state_demo") / "update.lock.json").read_text())
    assert refused.returncode == 1, refused.stderr
    assert "already being updated by `harness run`" in refused.stderr
    assert f"PID {first.pid}" in refused.stderr and holder["pid"] == first.pid
    assert first.returncode == -signal.SIGKILL and f"{KILL_MARKER} after_replace:numbers" in err, err
    killed_update = holder["update_id"]

    # 2. the next run recovers with no manual step: the killed update is closed as FAILED
    recovered = run(["run", str(root), *common], env())
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    states = [r for r in _events(state, "state_demo") if r["s"] in ("COMPLETED", "FAILED", "CANCELED")]
    assert [r["s"] for r in states if r["update_id"] == killed_update] == ["FAILED"]
    finals = [r["update_id"] for r in states if r["s"] == "COMPLETED"]
    assert len(finals) == 1 and finals[0] != killed_update

    # 3. readers work while an update holds the pipeline, and the catalog outlives each process:
    #    a table and a view made by one `harness sql` are there for the next
    with pipeline_lock(layout, "state_demo"):
        ddl = run(
            [
                "sql",
                "CREATE TABLE main.state_demo.evens_copy AS SELECT * FROM evens",
                *common,
            ],
            env(),
        )
        assert ddl.returncode == 0, ddl.stderr[-3000:]
        query = (
            "SELECT (SELECT count(*) FROM numbers) AS n, (SELECT count(*) FROM main.state_demo.evens) AS e, "
            "(SELECT count(*) FROM main.state_demo.evens_copy) AS c"
        )
        read = run(["sql", query, *common, "--format", "json"], env())
    assert read.returncode == 0, read.stderr[-3000:]
    assert json.loads(read.stdout.strip().splitlines()[-1]) == [{"n": 5, "e": 3, "c": 3}]
    saved = json.loads((layout.spark_dir / "catalog.json").read_text())
    assert saved["tables"]["main__state_demo.evens_copy"].get("managed") is True
    assert {"main__state_demo.numbers", "main__state_demo.evens"} <= set(saved["tables"])
