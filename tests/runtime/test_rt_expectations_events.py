"""Issue 3, points 5 and 6: expectations exactly as DLT counts them, and the event log they land in.

Oracle (shared/reference/dlt-semantics.md §4, §8, §10): warn keeps and counts, drop removes and
counts (a row failing any drop rule is dropped), fail stops that flow with EXPECTATION_VIOLATION
naming flow, expectation and record while other flows finish; counts per expectation
(`passed_records`, `failed_records`) and `dropped_records` land in `flow_progress` details with
Databricks' shape, so the documented event-log queries work (`:` replaced by get_json_object);
NULL constraint results fail unless harness.expectations.nullPasses=true (docs/semantics.md).
Event hooks receive every STABLE event, and a hook failing more than
max_allowable_consecutive_failures times in a row is disabled.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rt_helpers import events, flow_terminal, make_pipeline, rows

from harness.errors import ExpectationViolationError, UnknownDatasetError

pytestmark = pytest.mark.spark

SOURCE_ROWS = [
    (1, 10.0, "a"),
    (2, -5.0, "b"),
    (3, None, "c"),  # NULL constraint result
    (4, 20.0, None),
    (5, 0.0, "e"),
    (6, 7.0, "f"),
]

PROBE = """
    import sys

    from pyspark.sql import functions as F

    ROWS_SEEN = spark.sparkContext.accumulator(0)
    # the harness drops a pipeline's own modules after the update (the next one re-imports them, as
    # a fresh Databricks interpreter would): keep a handle under a name the pipeline does not provide
    sys.modules["_rt_exp_probe_kept_for_the_test"] = sys.modules[__name__]


    def _seen(value):
        ROWS_SEEN.add(1)
        return value


    seen = F.udf(_seen, "int")
"""

PIPELINE = """
    import json

    import dlt
    from pyspark.sql import functions as F
    from rt_exp_probe import seen

    HOOK_OUT = spark.conf.get("rt.hook_out")

    @dlt.table
    @dlt.expect("positive", "amount > 0")
    @dlt.expect("has_name", "name IS NOT NULL")
    def warn_mv():
        return spark.read.table("rt_exp_src.rows").withColumn("id", seen(F.col("id")))

    @dlt.table
    @dlt.expect_all_or_drop({"positive": "amount > 0", "has_name": "name IS NOT NULL"})
    def drop_st():
        return spark.readStream.table("rt_exp_src.rows")

    @dlt.view
    @dlt.expect_or_drop("small_id", "id <= 4")
    def capped():
        return spark.read.table("rt_exp_src.rows")

    @dlt.table
    def from_view():
        return dlt.read("capped")

    @dlt.on_event_hook
    def record(event):
        with open(HOOK_OUT, "a") as out:
            out.write(json.dumps({"id": event["id"], "event_type": event["event_type"]}) + "\\n")

    @dlt.on_event_hook(max_allowable_consecutive_failures=2)
    def flaky(event):
        with open(HOOK_OUT + ".flaky", "a") as out:
            out.write(event["id"] + "\\n")
        raise RuntimeError("hook endpoint down")
"""

NULL_PASSES = """
    import dlt

    @dlt.table
    @dlt.expect("positive", "amount > 0")
    def warn_nullpass():
        return spark.read.table("rt_exp_src.rows")
"""

FAILING = """
    import dlt

    @dlt.table
    @dlt.expect_or_fail("id_small", "id < 5")
    def strict():
        return spark.read.table("rt_exp_src.rows")

    @dlt.table
    def unaffected():
        return spark.range(3)
"""


@pytest.fixture(scope="module")
def runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rt_exp")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS rt_exp_src LOCATION '{base / 'src_db'}'")
    spark.createDataFrame(SOURCE_ROWS, "id INT, amount DOUBLE, name STRING").write.format(
        "delta"
    ).saveAsTable("rt_exp_src.rows")
    hook_out = base / "hook_events.jsonl"
    main = make_pipeline(
        spark,
        base / "main",
        "rt_exp",
        {"transformations/p.py": PIPELINE, "rt_exp_probe.py": PROBE},
        configuration={"rt.hook_out": str(hook_out)},
    )
    result = main.run()
    probe = sys.modules["_rt_exp_probe_kept_for_the_test"]
    null = make_pipeline(
        spark,
        base / "null",
        "rt_exp_null",
        {"transformations/p.py": NULL_PASSES},
        configuration={"harness.expectations.nullPasses": "true"},
    )
    null_result = null.run()
    fail = make_pipeline(spark, base / "fail", "rt_exp_fail", {"transformations/p.py": FAILING})
    fail_result = fail.run()
    yield {
        "main": main,
        "result": result,
        "rows_seen": probe.ROWS_SEEN.value,
        "hook_out": hook_out,
        "null": null,
        "null_result": null_result,
        "fail": fail,
        "fail_result": fail_result,
    }
    spark.sql("DROP DATABASE IF EXISTS rt_exp_src CASCADE")


def quality(pipeline: Any, result: Any, flow: str) -> dict[str, Any]:
    return flow_terminal(pipeline, result, flow)["details"]["data_quality"]


# --- expectations -----------------------------------------------------------------------------------


def test_warn_keeps_every_row_and_counts_per_expectation(runs: dict[str, Any]) -> None:
    main, result = runs["main"], runs["result"]
    assert result.status == "COMPLETED", result.error
    assert rows(main.table("warn_mv"), "id") == [(i,) for i in range(1, 7)]
    assert result.flows["warn_mv"].num_output_rows == 6
    assert quality(main, result, "warn_mv") == {
        "dropped_records": 0,
        "expectations": [
            {"name": "positive", "dataset": "warn_mv", "passed_records": 3, "failed_records": 3},
            {"name": "has_name", "dataset": "warn_mv", "passed_records": 5, "failed_records": 1},
        ],
    }


def test_drop_removes_rows_failing_any_rule_and_counts_them(runs: dict[str, Any]) -> None:
    main, result = runs["main"], runs["result"]
    assert rows(main.table("drop_st"), "id") == [(1,), (6,)]
    event = flow_terminal(main, result, "drop_st")["details"]
    assert event["metrics"]["num_output_rows"] == 2
    assert event["data_quality"] == {
        "dropped_records": 4,
        "expectations": [
            {"name": "positive", "dataset": "drop_st", "passed_records": 3, "failed_records": 3},
            {"name": "has_name", "dataset": "drop_st", "passed_records": 5, "failed_records": 1},
        ],
    }


def test_expectations_on_a_view_apply_where_it_is_read_and_are_reported_for_the_view(
    runs: dict[str, Any],
) -> None:
    main, result = runs["main"], runs["result"]
    assert rows(main.table("from_view"), "id") == [(1,), (2,), (3,), (4,)]
    assert quality(main, result, "capped") == {
        "dropped_records": 2,
        "expectations": [{"name": "small_id", "dataset": "capped", "passed_records": 4, "failed_records": 2}],
    }


def test_counts_are_gathered_in_the_same_pass_as_the_write(runs: dict[str, Any]) -> None:
    # The UDF counts every row Spark evaluates for warn_mv: one scan of 6 rows, no second pass to count.
    assert runs["rows_seen"] == len(SOURCE_ROWS)


def test_null_constraint_result_passes_only_when_configured(runs: dict[str, Any]) -> None:
    null, result = runs["null"], runs["null_result"]
    assert result.status == "COMPLETED", result.error
    assert quality(null, result, "warn_nullpass")["expectations"] == [
        {"name": "positive", "dataset": "warn_nullpass", "passed_records": 4, "failed_records": 2}
    ]


def test_fail_stops_the_flow_naming_flow_expectation_and_record(runs: dict[str, Any]) -> None:
    fail, result = runs["fail"], runs["fail_result"]
    assert result.status == "FAILED"
    strict = result.flows["strict"]
    assert strict.status == "FAILED" and strict.error_class == "ExpectationViolationError"
    error = strict.exception
    assert isinstance(error, ExpectationViolationError)
    assert (error.flow, error.expectation) == ("strict", "id_small")
    record = json.loads(error.record)
    assert record["id"] in (5, 6)
    assert result.flows["unaffected"].status == "COMPLETED"
    assert result.flows["unaffected"].num_output_rows == 3
    with pytest.raises(UnknownDatasetError):
        fail.table("strict")  # nothing was committed
    terminal = flow_terminal(fail, result, "strict")
    assert terminal["level"] == "ERROR"
    assert terminal["error"]["exceptions"][0]["class_name"] == "ExpectationViolationError"
    assert "data_quality" not in terminal["details"]  # a failed flow records no metrics


# --- event log ----------------------------------------------------------------------------------------

EXPECTED_COLUMNS = [
    ("id", "string"),
    ("sequence", "struct"),
    ("origin", "struct"),
    ("timestamp", "timestamp"),
    ("message", "string"),
    ("level", "string"),
    ("maturity_level", "string"),
    ("error", "string"),
    ("details", "string"),
    ("event_type", "string"),
]


def test_event_log_has_databricks_columns_and_types(runs: dict[str, Any]) -> None:
    schema = runs["main"].event_log().schema
    assert [(f.name, f.dataType.typeName()) for f in schema.fields] == EXPECTED_COLUMNS
    origin = schema["origin"].dataType.fieldNames()
    for name in (
        "pipeline_id",
        "pipeline_name",
        "update_id",
        "flow_id",
        "flow_name",
        "dataset_name",
        "batch_id",
    ):
        assert name in origin
    sequence = schema["sequence"].dataType
    assert sequence.fieldNames() == ["control_plane_seq_no", "data_plane_id"]


def test_update_progress_states_in_order(runs: dict[str, Any]) -> None:
    states = [
        e["details"]["state"]
        for e in events(runs["main"], runs["result"], "update_progress")
        if e["level"] != "WARN"
    ]
    assert states == ["QUEUED", "INITIALIZING", "SETTING_UP_TABLES", "RUNNING", "COMPLETED"]
    failed = [
        e["details"]["state"]
        for e in events(runs["fail"], runs["fail_result"], "update_progress")
        if e["level"] != "WARN"
    ]
    assert failed[0] == "QUEUED" and failed[-1] == "FAILED" and "COMPLETED" not in failed


def test_create_update_and_definitions_are_recorded(runs: dict[str, Any]) -> None:
    main, result = runs["main"], runs["result"]
    (create,) = events(main, result, "create_update")
    assert create["details"]["cause"] == "USER_ACTION" and create["details"]["full_refresh"] is False
    datasets = {
        e["details"]["dataset_name"]: e["details"] for e in events(main, result, "dataset_definition")
    }
    assert set(datasets) == {"warn_mv", "drop_st", "capped", "from_view"}
    flows = {e["origin"]["flow_name"]: e["details"] for e in events(main, result, "flow_definition")}
    assert flows["from_view"]["input_datasets"] == ["capped"]
    assert flows["from_view"]["output_dataset"] == "from_view"
    assert flows["drop_st"]["flow_type"] == "INCREMENTAL" and flows["warn_mv"]["flow_type"] == "COMPLETE"


def test_flow_progress_walks_the_flow_lifecycle(runs: dict[str, Any]) -> None:
    statuses = [
        e["details"]["status"]
        for e in events(runs["main"], runs["result"], "flow_progress")
        if e["origin"]["flow_name"] == "warn_mv"
    ]
    assert statuses == ["QUEUED", "STARTING", "RUNNING", "COMPLETED"]


def test_databricks_documented_data_quality_query_works(spark: Any, runs: dict[str, Any]) -> None:
    """The docs' query, with `details:a.b` written as get_json_object(details, '$.a.b')."""
    runs["main"].event_log().createOrReplaceTempView("event_log_raw")
    spark.sql(
        "CREATE OR REPLACE TEMP VIEW latest_update AS SELECT origin.update_id AS id FROM event_log_raw "
        "WHERE event_type = 'create_update' ORDER BY timestamp DESC LIMIT 1"
    )
    result = spark.sql(
        """
        SELECT row_expectations.dataset AS dataset, row_expectations.name AS expectation,
               SUM(row_expectations.passed_records) AS passing_records,
               SUM(row_expectations.failed_records) AS failing_records
        FROM (
          SELECT explode(from_json(get_json_object(details, '$.flow_progress.data_quality.expectations'),
                 'array<struct<name: string, dataset: string, passed_records: int, failed_records: int>>'))
                 row_expectations
          FROM event_log_raw, latest_update
          WHERE event_type = 'flow_progress' AND origin.update_id = latest_update.id
        )
        GROUP BY row_expectations.dataset, row_expectations.name
        """
    )
    assert rows(result, "dataset", "expectation", "passing_records", "failing_records") == [
        ("capped", "small_id", 4, 2),
        ("drop_st", "has_name", 5, 1),
        ("drop_st", "positive", 3, 3),
        ("warn_mv", "has_name", 5, 1),
        ("warn_mv", "positive", 3, 3),
    ]
    written = spark.sql(
        "SELECT origin.flow_name AS flow, "
        "CAST(get_json_object(details, '$.flow_progress.metrics.num_output_rows') AS BIGINT) AS n "
        "FROM event_log_raw, latest_update WHERE event_type = 'flow_progress' "
        "AND origin.update_id = latest_update.id "
        "AND get_json_object(details, '$.flow_progress.status') = 'COMPLETED'"
    )
    assert ("drop_st", 2) in rows(written, "flow", "n") and ("warn_mv", 6) in rows(written, "flow", "n")


def test_event_hook_receives_every_stable_event_of_the_update(runs: dict[str, Any]) -> None:
    received = [json.loads(line) for line in Path(runs["hook_out"]).read_text().splitlines()]
    log = runs["main"].event_log().where(f"origin.update_id = '{runs['result'].update_id}'")
    expected = {
        r["id"]
        for r in log.where("maturity_level = 'STABLE' AND event_type != 'hook_progress'")
        .select("id")
        .collect()
    }
    assert {e["id"] for e in received} == expected
    assert len(received) == len(expected)  # each event once
    assert "hook_progress" not in {e["event_type"] for e in received}
    assert {"create_update", "update_progress", "flow_progress"} <= {e["event_type"] for e in received}


def test_failing_hook_is_disabled_after_max_allowable_consecutive_failures(runs: dict[str, Any]) -> None:
    calls = Path(str(runs["hook_out"]) + ".flaky").read_text().splitlines()
    assert len(calls) == 3  # 2 failures allowed; the third consecutive failure disables it
    progress = [e["details"]["status"] for e in events(runs["main"], runs["result"], "hook_progress")]
    assert progress == ["FAILED", "FAILED", "DISABLED"]
