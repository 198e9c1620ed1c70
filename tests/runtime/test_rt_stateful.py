"""Issue 14 point 2: stateful streaming shapes in streaming tables, as Databricks runs them, over updates.

Oracle (docs/semantics.md §9, with its sources): an aggregation without a watermark, or with one but
grouped without the event time, is "fully recomputed with each update" [DB-STATEFUL]: the table holds
the aggregate over every input row so far (complete output mode). An aggregation on a window of the
event time under a watermark emits each window once, when the watermark passes its end (append);
rows later than the watermark are dropped. dropDuplicates keeps its keys across updates;
dropDuplicatesWithinWatermark drops too-late rows. A stream-static join reads the static side's
current version for each new streaming row and never rewrites rows already written. A stream-stream
join keeps unmatched rows in state from one update to the next. The output mode is stated in the
flow's flow_progress event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import events, make_pipeline

pytestmark = pytest.mark.spark

PIPELINE = """
    import dlt
    from pyspark.sql import functions as F

    LANDING = "/Volumes/main/stateful/landing"


    def _json(folder, schema):
        return spark.readStream.format("json").schema(schema).load(f"{LANDING}/{folder}")


    @dlt.table
    def events():
        return _json("events", "id INT, k STRING, ts TIMESTAMP, v INT")


    @dlt.table
    @dlt.expect("big", "total >= 5")
    def agg_no_watermark():
        return dlt.read_stream("events").groupBy("k").agg(F.sum("v").alias("total"), F.count("*").alias("n"))


    @dlt.table
    def agg_watermark_no_time_key():
        return (
            dlt.read_stream("events").withWatermark("ts", "10 minutes")
            .groupBy("k").agg(F.sum("v").alias("total"))
        )


    @dlt.table
    def agg_window():
        return (
            dlt.read_stream("events").withWatermark("ts", "10 minutes")
            .groupBy(F.window("ts", "5 minutes"), "k")
            .agg(F.sum("v").alias("total"))
            .select(F.col("window.start").alias("start"), "k", "total")
        )


    @dlt.table
    def dedup():
        return dlt.read_stream("events").dropDuplicates(["id"]).select("id", "k")


    @dlt.table
    def dedup_within_watermark():
        return (
            dlt.read_stream("events").withWatermark("ts", "10 minutes")
            .dropDuplicatesWithinWatermark(["id"]).select("id", "k")
        )


    @dlt.table
    def colours():
        return spark.read.format("json").schema("k STRING, colour STRING").load(f"{LANDING}/colours")


    @dlt.table
    def enriched():
        return dlt.read_stream("events").join(dlt.read("colours"), "k", "left").select("id", "k", "colour")


    @dlt.table
    def orders():
        return _json("orders", "order_id STRING, ots TIMESTAMP").withWatermark("ots", "30 minutes")


    @dlt.table
    def payments():
        return _json("payments", "pay_id STRING, paid_order STRING, pts TIMESTAMP")


    @dlt.table
    def paid_orders():
        orders = dlt.read_stream("orders").withWatermark("ots", "30 minutes")
        payments = dlt.read_stream("payments").withWatermark("pts", "30 minutes")
        return orders.join(
            payments,
            F.expr("paid_order = order_id AND pts BETWEEN ots AND ots + INTERVAL 15 MINUTES"),
        ).select("order_id", "pay_id")
"""


def _land(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _ev(i: int, k: str, hhmm: str, v: int) -> dict[str, Any]:
    return {"id": i, "k": k, "ts": f"2026-01-01T{hhmm}:00", "v": v}


@pytest.fixture(scope="module")
def stateful(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("stateful")
    pipeline = make_pipeline(spark, base, "stateful", {"transformations/shapes.py": PIPELINE})
    landing = pipeline.volume_path("/Volumes/main/stateful/landing")
    runs: dict[str, Any] = {}
    snapshots: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    tables = [
        "agg_no_watermark",
        "agg_watermark_no_time_key",
        "agg_window",
        "dedup",
        "dedup_within_watermark",
        "enriched",
        "paid_orders",
    ]

    def snapshot(label: str) -> None:
        snapshots[label] = {
            t: sorted(tuple(r) for r in pipeline.table(t).drop("n").collect()) for t in tables
        }

    events_1 = [_ev(1, "a", "10:00", 1), _ev(2, "b", "10:01", 2), _ev(3, "a", "10:02", 3)]
    events_1 += [_ev(3, "a", "10:02", 3), _ev(4, "a", "10:20", 7)]  # a duplicate of 3; a later a
    _land(landing / "events", "1.json", events_1)
    _land(landing / "colours", "1.json", [{"k": "a", "colour": "red"}, {"k": "b", "colour": "blue"}])
    _land(
        landing / "orders",
        "1.json",
        [{"order_id": "o1", "ots": "2026-01-01T10:00:00"}, {"order_id": "o2", "ots": "2026-01-01T10:05:00"}],
    )
    _land(
        landing / "payments", "1.json", [{"pay_id": "p1", "paid_order": "o1", "pts": "2026-01-01T10:03:00"}]
    )
    runs["u1"] = pipeline.run()
    snapshot("u1")

    # 10:00 for id 1 is behind the watermark (10:20 - 10 min): late, and a duplicate
    _land(
        landing / "events",
        "2.json",
        [_ev(5, "b", "10:40", 10), _ev(1, "a", "10:00", 1), _ev(6, "c", "10:41", 5)],
    )
    (landing / "colours" / "1.json").unlink()
    _land(landing / "colours", "2.json", [{"k": "a", "colour": "green"}, {"k": "c", "colour": "yellow"}])
    _land(landing / "orders", "2.json", [{"order_id": "o3", "ots": "2026-01-01T10:30:00"}])
    _land(
        landing / "payments",
        "2.json",
        [
            {"pay_id": "p2", "paid_order": "o2", "pts": "2026-01-01T10:10:00"},
            {"pay_id": "p3", "paid_order": "o3", "pts": "2026-01-01T10:31:00"},
        ],
    )
    runs["u2"] = pipeline.run()
    snapshot("u2")
    runs["u3"] = pipeline.run()  # nothing new: every table stays as it is
    snapshot("u3")
    return {"pipeline": pipeline, "runs": runs, "tables": snapshots}


def test_every_update_completes(stateful: dict[str, Any]) -> None:
    for label, run in stateful["runs"].items():
        assert run.status == "COMPLETED", (label, run.error)


def test_aggregation_without_watermark_is_the_aggregate_over_all_input(stateful: dict[str, Any]) -> None:
    tables = stateful["tables"]
    assert tables["u1"]["agg_no_watermark"] == [("a", 14), ("b", 2)]
    assert tables["u2"]["agg_no_watermark"] == [("a", 15), ("b", 12), ("c", 5)]
    assert tables["u3"]["agg_no_watermark"] == tables["u2"]["agg_no_watermark"]
    rows = {r["k"]: r["n"] for r in stateful["pipeline"].table("agg_no_watermark").collect()}
    assert rows == {"a": 5, "b": 2, "c": 1}


def test_aggregation_with_watermark_but_no_time_key_is_recomputed_too(stateful: dict[str, Any]) -> None:
    tables = stateful["tables"]
    assert tables["u1"]["agg_watermark_no_time_key"] == [("a", 14), ("b", 2)]
    # no event time among the keys: the watermark cannot close a group, so no row is late for it
    assert tables["u2"]["agg_watermark_no_time_key"] == [("a", 15), ("b", 12), ("c", 5)]


def test_window_aggregation_emits_closed_windows_once(stateful: dict[str, Any]) -> None:
    from datetime import datetime

    t = lambda hhmm: datetime.fromisoformat(f"2026-01-01T{hhmm}:00")  # noqa: E731
    tables = stateful["tables"]
    # after update 1 the watermark is 10:10: the 10:00 windows are closed, 10:20 is still open
    assert tables["u1"]["agg_window"] == [(t("10:00"), "a", 7), (t("10:00"), "b", 2)]
    # after update 2 it is 10:31: 10:20 closes; the late 10:00 row does not reopen its window
    assert tables["u2"]["agg_window"] == [(t("10:00"), "a", 7), (t("10:00"), "b", 2), (t("10:20"), "a", 7)]
    assert tables["u3"]["agg_window"] == tables["u2"]["agg_window"]


def test_deduplication_remembers_keys_across_updates(stateful: dict[str, Any]) -> None:
    tables = stateful["tables"]
    first = [(1, "a"), (2, "b"), (3, "a"), (4, "a")]
    after = [*first, (5, "b"), (6, "c")]
    for table in ("dedup", "dedup_within_watermark"):
        assert tables["u1"][table] == first, table
        assert tables["u2"][table] == after, table  # id 1 again: a duplicate (and too late)


def test_stream_static_join_uses_the_current_static_side_for_new_rows_only(stateful: dict[str, Any]) -> None:
    tables = stateful["tables"]
    first = [(1, "a", "red"), (2, "b", "blue"), (3, "a", "red"), (3, "a", "red"), (4, "a", "red")]
    assert tables["u1"]["enriched"] == first
    assert tables["u2"]["enriched"] == sorted(
        [*first, (1, "a", "green"), (5, "b", None), (6, "c", "yellow")],
        key=lambda r: (r[0], r[1], r[2] or ""),
    )


def test_stream_stream_join_keeps_unmatched_rows_in_state_across_updates(stateful: dict[str, Any]) -> None:
    tables = stateful["tables"]
    assert tables["u1"]["paid_orders"] == [("o1", "p1")]
    assert tables["u2"]["paid_orders"] == [("o1", "p1"), ("o2", "p2"), ("o3", "p3")]


def test_output_mode_and_counts_in_flow_progress(stateful: dict[str, Any]) -> None:
    pipeline, runs = stateful["pipeline"], stateful["runs"]
    for label, expected_rows, expected_quality in (
        ("u1", 2, [1, 1]),  # the table after update 1: a=14 passes, b=2 fails
        ("u2", 3, [3, 0]),
    ):
        done = {
            e["origin"]["flow_name"]: e["details"]
            for e in events(pipeline, runs[label], "flow_progress")
            if e["details"]["status"] == "COMPLETED"
        }
        assert done["agg_no_watermark"]["output_mode"] == "COMPLETE"
        assert done["agg_watermark_no_time_key"]["output_mode"] == "COMPLETE"
        for flow in ("agg_window", "dedup", "dedup_within_watermark", "enriched", "paid_orders", "events"):
            assert done[flow]["output_mode"] == "APPEND", flow
        details = done["agg_no_watermark"]
        assert details["metrics"]["num_output_rows"] == expected_rows
        rule = details["data_quality"]["expectations"][0]
        assert [rule["passed_records"], rule["failed_records"]] == expected_quality
