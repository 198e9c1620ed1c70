"""The same pipeline on a Spark standalone cluster (master + 2 workers from pyspark's distribution).

Marked `cluster` (outside the default run): it starts three extra JVMs and a driver in a
subprocess, because the test session's own SparkSession is local and a JVM hosts one SparkContext.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.spark.cluster import standalone_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PIPELINE = textwrap.dedent(
    """
    import dlt
    from pyspark.sql import functions as F

    @dlt.table
    def bronze():
        return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "json")
                .option("cloudFiles.schemaHints", "id INT, amount DOUBLE")
                .load("/Volumes/c/s/v/in"))

    @dlt.table
    @dlt.expect_or_drop("positive", "amount > 0")
    def silver():
        return dlt.read_stream("bronze")

    @dlt.table
    def gold():
        return dlt.read("silver").groupBy("status").agg(F.sum("amount").alias("total"), F.count("*").alias("n"))
    """
)

DRIVER = textwrap.dedent(
    """
    import json, sys
    from harness.pipeline import LocalPipeline
    root, state, master = sys.argv[1:4]
    settings = {"name": "cluster_check", "catalog": "c", "schema": "s",
                "libraries": [{"glob": {"include": "transformations/**"}}]}
    pipeline = LocalPipeline(root, settings, state=state, master=master)
    folder = pipeline.volume_path("/Volumes/c/s/v/in")
    folder.mkdir(parents=True, exist_ok=True)
    out = {"master": pipeline.spark.sparkContext.master}
    for batch in range(2):
        rows = [{"id": batch * 100 + i, "amount": float(i - 2), "status": "paid" if i % 2 else "created"}
                for i in range(10)]
        (folder / f"b{batch}.json").write_text("".join(json.dumps(r) + "\\n" for r in rows))
        result = pipeline.run()
        out[f"update{batch}"] = result.status
        out[f"silver_rows{batch}"] = result.flows["silver"].num_output_rows
        out[f"dropped{batch}"] = result.flows["silver"].dropped_records
    gold = {r["status"]: (r["total"], r["n"]) for r in pipeline.table("gold").collect()}
    out["gold"] = gold
    out["executors"] = pipeline.spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size()
    print("RESULT=" + json.dumps(out))
    """
)


def test_pipeline_runs_on_a_standalone_cluster(tmp_path: Path) -> None:
    root = tmp_path / "pipeline"
    (root / "transformations").mkdir(parents=True)
    (root / "transformations" / "p.py").write_text(PIPELINE)
    with standalone_cluster(tmp_path / "cluster", workers=2) as cluster:
        assert cluster.alive_workers() == 2
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, str(root), str(tmp_path / "state"), cluster.master_url],
            capture_output=True,
            text=True,
            timeout=900,
            env=dict(os.environ, HARNESS_DRIVER_MEMORY="1g"),
        )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT="))[7:])
    assert result["master"] == cluster.master_url
    assert result["executors"] >= 3  # the driver's block manager + one executor per worker
    assert [result["update0"], result["update1"]] == ["COMPLETED", "COMPLETED"]
    # amounts -2..7 per batch: 7 positive rows kept, 3 dropped (0 fails "> 0"), each batch processed once
    assert [result["silver_rows0"], result["silver_rows1"]] == [7, 7]
    assert [result["dropped0"], result["dropped1"]] == [3, 3]
    # positives 1..7: odd ids paid (1+3+5+7=16), even created (2+4+6=12), twice
    assert result["gold"] == {"paid": [32.0, 8], "created": [24.0, 6]}


def test_e2e_job_reconciles_on_a_standalone_cluster(tmp_path: Path) -> None:
    """`harness e2e --master spark://...`: the main job, executors on two workers, same reconciliation."""
    state = tmp_path / "e2e"
    with standalone_cluster(tmp_path / "cluster", workers=2) as cluster:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli.main",
                "e2e",
                "--state",
                str(state),
                "--master",
                cluster.master_url,
                "--batches",
                "2",
                "--orders-per-batch",
                "200",
            ],
            capture_output=True,
            text=True,
            timeout=1800,
            env=dict(os.environ, HARNESS_DRIVER_MEMORY="1g"),
        )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    summary = json.loads((state / "report" / "summary.json").read_text())
    assert summary["status"] == "PASSED"
    assert summary["mismatches"] == []
    assert summary["checks"]["tables = simulator manifest"] > 50
    assert summary["options"]["master"] == cluster.master_url
    assert [u["status"] for u in summary["updates"]][-1] == "COMPLETED"
