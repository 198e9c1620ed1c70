"""Several append flows into one streaming table, a once=True backfill, and sinks (delta by path,
delta by table name, foreach_batch) inside a pipeline (issue 4, points 4 and 5).

Pipeline "flows", three updates:
  u1 eu/e1.json (2 rows), us/u1.json (1 row), history/h.json (3 rows, read once by the backfill);
  u2 eu/e2.json (1 row): only that row flows on; the backfill does not run again;
  u3 full refresh: all_orders is rebuilt (backfill re-runs), the sinks receive every row again and
     keep what they had ("Running a full refresh update does not clear data from sinks").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from runtime_sources_helpers import drop_file, make_pipeline, metrics, table_rows

pytestmark = pytest.mark.spark

LANDING = "/Volumes/main/raw/flows"
SINK_PATH = "/Volumes/main/out/sinks/orders"
SINK_TABLE = "main__rs_sink_out.orders"

PIPELINE = f'''
import json

import dlt
from pyspark.sql.functions import lit


def landing(region):
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .schema("id INT, amount INT")
        .load(f"{LANDING}/{{region}}")
        .withColumn("region", lit(region))
    )


dlt.create_streaming_table("all_orders")


@dlt.append_flow(target="all_orders")
def orders_eu():
    return landing("eu")


@dlt.append_flow(target="all_orders")
def orders_us():
    return landing("us")


@dlt.append_flow(target="all_orders", once=True)
def orders_backfill():
    return spark.read.schema("id INT, amount INT").json("{LANDING}/history").withColumn("region", lit("hist"))


dlt.create_sink("orders_delta_path", "delta", {{"path": "{SINK_PATH}"}})
dlt.create_sink("orders_delta_table", "delta", {{"tableName": "main.rs_sink_out.orders"}})


@dlt.foreach_batch_sink(name="orders_collector")
def collect_orders(df, batch_id):
    with open(spark.conf.get("test.collector_file"), "a", encoding="utf-8") as out:
        for row in df.collect():
            out.write(json.dumps({{"batch_id": batch_id, **row.asDict()}}) + "\\n")


@dlt.append_flow(target="orders_delta_path")
def to_delta_path():
    return spark.readStream.table("all_orders")


@dlt.append_flow(target="orders_delta_table")
def to_delta_table():
    return spark.readStream.table("all_orders")


@dlt.append_flow(target="orders_collector")
def to_collector():
    return spark.readStream.table("all_orders")
'''

U1_ROWS = [(1, 10, "eu"), (2, 20, "eu"), (3, 30, "us"), (97, 1, "hist"), (98, 2, "hist"), (99, 3, "hist")]
U2_ROWS = [(4, 40, "eu")]


def _collected(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _sink_rows(spark: Any, path: str) -> list[tuple[Any, ...]]:
    rows = spark.read.format("delta").load(path).select("id", "amount", "region").collect()
    return sorted(tuple(r) for r in rows)


@pytest.fixture(scope="module")
def flows(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rs_flows")
    collector = base / "collected.jsonl"
    pipeline = make_pipeline(
        spark, base, "rs_flows", PIPELINE, configuration={"test.collector_file": str(collector)}
    )
    sink_path = str(pipeline.volume_path(SINK_PATH))
    drop_file(
        pipeline.volume_path(f"{LANDING}/eu"), "e1.json", [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}]
    )
    drop_file(pipeline.volume_path(f"{LANDING}/us"), "u1.json", [{"id": 3, "amount": 30}])
    drop_file(
        pipeline.volume_path(f"{LANDING}/history"),
        "h.json",
        [{"id": 97, "amount": 1}, {"id": 98, "amount": 2}, {"id": 99, "amount": 3}],
    )
    runs: dict[str, Any] = {}
    seen: dict[str, Any] = {}

    def record(name: str, result: Any) -> None:
        runs[name] = result
        seen[name] = {
            "all_orders": table_rows(pipeline, "all_orders", ["id", "amount", "region"]),
            "path": _sink_rows(spark, sink_path),
            "table": sorted(
                tuple(r) for r in spark.table(SINK_TABLE).select("id", "amount", "region").collect()
            ),
            "collected": _collected(collector),
        }

    record("u1", pipeline.run())
    drop_file(pipeline.volume_path(f"{LANDING}/eu"), "e2.json", [{"id": 4, "amount": 40}])
    record("u2", pipeline.run())
    record("u3", pipeline.run(full_refresh=True))
    return {"pipeline": pipeline, "runs": runs, "seen": seen}


def test_updates_complete(flows):
    for name, result in flows["runs"].items():
        assert result.status == "COMPLETED", (name, result.error)


def test_append_flows_fill_one_table(flows):
    seen = flows["seen"]
    assert seen["u1"]["all_orders"] == sorted(U1_ROWS)
    assert seen["u2"]["all_orders"] == sorted(U1_ROWS + U2_ROWS)
    u1 = flows["runs"]["u1"].flows
    assert (u1["orders_eu"].num_output_rows, u1["orders_us"].num_output_rows) == (2, 1)
    u2 = flows["runs"]["u2"].flows
    assert (u2["orders_eu"].num_output_rows, u2["orders_us"].num_output_rows) == (1, 0)


def test_each_append_flow_has_its_own_checkpoint(flows):
    from harness.autoloader import ingested_files

    root = flows["pipeline"].runtime.checkpoints_root / "all_orders"
    read = {
        flow: sorted(Path(f.path).name for f in ingested_files(str(root / flow)))
        for flow in ("orders_eu", "orders_us")
    }
    # each checkpoint's file log holds only its own source's files (u3's full refresh re-read them)
    assert read == {"orders_eu": ["e1.json", "e2.json"], "orders_us": ["u1.json"]}


def test_once_flow_runs_once_and_again_after_full_refresh(flows):
    runs, pipeline = flows["runs"], flows["pipeline"]
    assert runs["u1"].flows["orders_backfill"].num_output_rows == 3
    assert metrics(pipeline, runs["u1"], "orders_backfill")["num_output_rows"] == 3
    assert runs["u2"].flows["orders_backfill"].num_output_rows == 0
    assert runs["u3"].flows["orders_backfill"].num_output_rows == 3
    assert flows["seen"]["u3"]["all_orders"] == sorted(U1_ROWS + U2_ROWS)  # rebuilt, no duplicates


def test_delta_sinks_receive_exactly_the_new_rows(flows):
    seen = flows["seen"]
    for kind in ("path", "table"):
        assert seen["u1"][kind] == sorted(U1_ROWS), kind
        assert seen["u2"][kind] == sorted(U1_ROWS + U2_ROWS), kind
    assert flows["runs"]["u2"].flows["to_delta_path"].num_output_rows == 1
    assert flows["runs"]["u2"].flows["to_delta_table"].num_output_rows == 1


def test_full_refresh_does_not_clear_sinks(flows):
    after = flows["seen"]["u3"]
    everything = sorted(U1_ROWS + U2_ROWS)
    for kind in ("path", "table"):
        assert after[kind] == sorted(everything + everything), kind


def test_foreach_batch_sink_gets_each_row_once_per_stream(flows):
    seen = flows["seen"]

    def rows(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((e["id"], e["amount"], e["region"]) for e in entries)

    u1 = seen["u1"]["collected"]
    u2_new = seen["u2"]["collected"][len(u1) :]
    u3_new = seen["u3"]["collected"][len(seen["u2"]["collected"]) :]
    assert rows(u1) == sorted(U1_ROWS)
    assert rows(u2_new) == U2_ROWS
    assert min(e["batch_id"] for e in u2_new) > max(e["batch_id"] for e in u1)
    # a full refresh restarts the stream: batch ids from 0, every row again
    assert rows(u3_new) == sorted(U1_ROWS + U2_ROWS)
    assert min(e["batch_id"] for e in u3_new) == 0
    assert flows["runs"]["u2"].flows["to_collector"].num_output_rows == 1
