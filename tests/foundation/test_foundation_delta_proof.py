"""Proof that the session is real Delta Lake: create, MERGE, time travel, history."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.spark


def test_delta_create_merge_time_travel_and_history(spark, tmp_path: Path) -> None:
    from delta.tables import DeltaTable

    path = str(tmp_path / "orders")
    spark.createDataFrame(
        [("o1", "created", 10.0), ("o2", "created", 20.0)], "order_id STRING, status STRING, amount DOUBLE"
    ).write.format("delta").save(path)

    updates = spark.createDataFrame(
        [("o2", "paid", 20.0), ("o3", "created", 5.5)], "order_id STRING, status STRING, amount DOUBLE"
    )
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("s"), "t.order_id = s.order_id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )

    current = {r.order_id: r.status for r in spark.read.format("delta").load(path).collect()}
    assert current == {"o1": "created", "o2": "paid", "o3": "created"}

    version_0 = spark.read.format("delta").option("versionAsOf", 0).load(path)
    assert sorted((r.order_id, r.status) for r in version_0.collect()) == [
        ("o1", "created"),
        ("o2", "created"),
    ]

    history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    assert [(h.version, h.operation) for h in history] == [(0, "WRITE"), (1, "MERGE")]
    merge_metrics = history[1].operationMetrics
    assert merge_metrics["numTargetRowsUpdated"] == "1"
    assert merge_metrics["numTargetRowsInserted"] == "1"


def test_sql_tables_live_in_the_session_warehouse(spark, spark_state_dir: Path) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS foundation_proof")
    spark.sql("CREATE OR REPLACE TABLE foundation_proof.t (id INT) USING DELTA")
    spark.sql("INSERT INTO foundation_proof.t VALUES (1), (2)")

    location = spark.sql("DESCRIBE DETAIL foundation_proof.t").first()["location"]
    assert spark.table("foundation_proof.t").count() == 2
    assert str(spark_state_dir) in location
