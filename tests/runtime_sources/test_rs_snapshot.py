"""Snapshot AUTO CDC (`dlt.apply_changes_from_snapshot` / `dlt.create_auto_cdc_from_snapshot_flow`)
inside a pipeline, SCD1 and SCD2, from a table name and from a snapshot-and-version function
(issue 4, point 3).

Pipeline "snap", two updates:
  * `products_*` snapshot a view over the table `main.rs_snap_ext.products` (the documented
    periodic-snapshot pattern), which the test overwrites between updates (version 0 = the first
    update's read, 1 = the second's);
  * `orders_*` take snapshots from a function that reads `/Volumes/.../snapshots/snapshot_<v>.json`
    for the next version and returns None when there is none: snapshots 1 and 2 exist before the
    first update (both applied, in order), snapshot 3 lands before the second.
"""

from __future__ import annotations

from typing import Any

import pytest
from runtime_sources_helpers import drop_file, make_pipeline, metrics, table_rows

pytestmark = pytest.mark.spark

SNAPSHOTS = "/Volumes/main/raw/snapshots/orders"
SOURCE_TABLE = "main.rs_snap_ext.products"
LOCAL_SOURCE_TABLE = "main__rs_snap_ext.products"

PIPELINE = f'''
import os

import dlt

SNAPSHOTS = "{SNAPSHOTS}"


def next_snapshot(latest_version):
    version = 1 if latest_version is None else latest_version + 1
    path = f"{{SNAPSHOTS}}/snapshot_{{version}}.json"
    if not os.path.exists(spark.conf.get("test.snapshots_local") + f"/snapshot_{{version}}.json"):
        return None
    return spark.read.schema("id INT, status STRING").json(path), version


@dlt.view
def products_source():
    # the documented periodic-snapshot pattern: a view over the table that is snapshotted
    return spark.read.table("{SOURCE_TABLE}")


dlt.create_streaming_table("products_scd1")
dlt.apply_changes_from_snapshot(
    target="products_scd1", source="products_source", keys=["id"], stored_as_scd_type=1
)

dlt.create_streaming_table("products_scd2")
dlt.create_auto_cdc_from_snapshot_flow(
    target="products_scd2", source="products_source", keys=["id"], stored_as_scd_type=2
)

dlt.create_streaming_table("orders_scd1")
dlt.apply_changes_from_snapshot(
    target="orders_scd1", snapshot_and_version=next_snapshot, keys=["id"], stored_as_scd_type=1
)

dlt.create_streaming_table("orders_scd2")
dlt.create_auto_cdc_from_snapshot_flow(
    target="orders_scd2", source=next_snapshot, keys=["id"], stored_as_scd_type=2
)
'''


def _write_source(spark: Any, rows: list[tuple[int, str]]) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS main__rs_snap_ext")
    spark.createDataFrame(rows, "id INT, name STRING").write.format("delta").mode("overwrite").saveAsTable(
        LOCAL_SOURCE_TABLE
    )


def _snapshot(pipeline: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "products_scd1": table_rows(pipeline, "products_scd1", ["id", "name"]),
        "products_scd2": table_rows(pipeline, "products_scd2", ["id", "name", "__START_AT", "__END_AT"]),
        "orders_scd1": table_rows(pipeline, "orders_scd1", ["id", "status"]),
        "orders_scd2": table_rows(pipeline, "orders_scd2", ["id", "status", "__START_AT", "__END_AT"]),
    }


@pytest.fixture(scope="module")
def snap(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rs_snap")
    state_volumes = base / "state" / "volumes"
    local = state_volumes / SNAPSHOTS.removeprefix("/Volumes/")
    pipeline = make_pipeline(
        spark, base, "rs_snap", PIPELINE, configuration={"test.snapshots_local": str(local)}
    )
    assert pipeline.volume_path(SNAPSHOTS) == local
    _write_source(spark, [(1, "a"), (2, "b"), (3, "c")])
    drop_file(local, "snapshot_1.json", [{"id": 10, "status": "new"}, {"id": 11, "status": "new"}])
    drop_file(local, "snapshot_2.json", [{"id": 10, "status": "paid"}, {"id": 11, "status": "new"}])
    runs, tables = {"u1": pipeline.run()}, {}
    tables["u1"] = _snapshot(pipeline)
    _write_source(spark, [(1, "a"), (2, "B"), (4, "d")])
    drop_file(local, "snapshot_3.json", [{"id": 10, "status": "shipped"}, {"id": 12, "status": "new"}])
    runs["u2"] = pipeline.run()
    tables["u2"] = _snapshot(pipeline)
    return {"pipeline": pipeline, "runs": runs, "tables": tables}


def test_updates_complete(snap):
    for name, result in snap["runs"].items():
        assert result.status == "COMPLETED", (name, result.error)


def test_table_snapshots_scd1(snap):
    assert snap["tables"]["u1"]["products_scd1"] == [(1, "a"), (2, "b"), (3, "c")]
    # changed key updated, missing key deleted, new key inserted, unchanged key untouched
    assert snap["tables"]["u2"]["products_scd1"] == [(1, "a"), (2, "B"), (4, "d")]


def test_table_snapshots_scd2(snap):
    assert snap["tables"]["u1"]["products_scd2"] == [(1, "a", 0, None), (2, "b", 0, None), (3, "c", 0, None)]
    assert snap["tables"]["u2"]["products_scd2"] == [
        (1, "a", 0, None),
        (2, "B", 1, None),
        (2, "b", 0, 1),
        (3, "c", 0, 1),
        (4, "d", 1, None),
    ]


def test_function_snapshots_called_until_none(snap):
    first, second = snap["tables"]["u1"], snap["tables"]["u2"]
    assert first["orders_scd1"] == [(10, "paid"), (11, "new")]
    assert first["orders_scd2"] == [(10, "new", 1, 2), (10, "paid", 2, None), (11, "new", 1, None)]
    assert snap["runs"]["u1"].flows["orders_scd2"].num_batches == 2  # versions 1 and 2
    assert second["orders_scd1"] == [(10, "shipped"), (12, "new")]
    assert second["orders_scd2"] == [
        (10, "new", 1, 2),
        (10, "paid", 2, 3),
        (10, "shipped", 3, None),
        (11, "new", 1, 3),
        (12, "new", 3, None),
    ]
    assert snap["runs"]["u2"].flows["orders_scd2"].num_batches == 1  # resumed after version 2


def test_snapshot_metrics(snap):
    pipeline, runs = snap["pipeline"], snap["runs"]
    # u2 on products_scd1: 2 upserted (2 changed, 4 new), 1 deleted (3)
    counts = metrics(pipeline, runs["u2"], "products_scd1")
    assert (counts["num_upserted_rows"], counts["num_deleted_rows"]) == (2, 1)
    assert metrics(pipeline, runs["u1"], "orders_scd1")["num_upserted_rows"] == 3  # 10, 11, then 10 again
