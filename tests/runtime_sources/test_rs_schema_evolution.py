"""Auto Loader schema evolution inside pipelines, all four `cloudFiles.schemaEvolutionMode` values,
with the two-phase fixture of issue 4 point 6: batch 1 has the base schema, batch 2 a new field
(`coupon`) and a type mismatch (`amount` "abc" where a number was inferred).

Pipeline "evo_add" (addNewColumns, the default when the schema is inferred):
  u1 base file → COMPLETED; u2 run(retry_on_schema_change=False) after batch 2 → FAILED with
  NewColumnsDetectedError naming `coupon`, nothing written, merged schema recorded; u3 run() →
  COMPLETED with the new column; then a third file with another new field (`note`) and one run()
  call: it fails once, retries by itself and COMPLETES.
Pipeline "evo_modes": rescue, failOnNewColumns and none side by side, two updates and a third one
that shows failOnNewColumns keeps failing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyspark.sql.types import LongType
from runtime_sources_helpers import drop_file, make_pipeline, table_rows, terminal_event

pytestmark = pytest.mark.spark

LANDING = "/Volumes/main/raw/evolution"
BATCH_1 = [{"id": 1, "name": "a", "amount": 10}]
BATCH_2 = [{"id": 2, "name": "b", "amount": "abc", "coupon": "X1"}]
BATCH_3 = [{"id": 3, "name": "c", "amount": 30, "note": "late"}]


def _source(table: str, directory: str, mode: str | None, schema_location: str | None = None) -> str:
    options = [
        '.option("cloudFiles.format", "json")',
        '.option("cloudFiles.inferColumnTypes", "true")',
    ]
    if mode is not None:
        options.append(f'.option("cloudFiles.schemaEvolutionMode", "{mode}")')
    if schema_location is not None:
        options.append(f'.option("cloudFiles.schemaLocation", "{schema_location}")')
    chain = "\n        ".join(options)
    return f'''
@dlt.table
def {table}():
    return (
        spark.readStream.format("cloudFiles")
        {chain}
        .load("{LANDING}/{directory}")
    )
'''


ADD_PIPELINE = "import dlt\n" + _source("evo_add", "add", None, f"{LANDING}/_schemas/add")
MODES_PIPELINE = (
    "import dlt\n"
    + _source("evo_rescue", "rescue", "rescue")
    + _source("evo_fail", "fail", "failOnNewColumns")
    + _source("evo_none", "none", "none")
)


def _update_states(pipeline: Any) -> list[tuple[str, str]]:
    """(update_id, terminal state) of every update, in order."""
    rows = (
        pipeline.event_log()
        .where("event_type = 'update_progress'")
        .selectExpr("origin.update_id AS id", "get_json_object(details, '$.update_progress.state') AS state")
        .orderBy("sequence.data_plane_id.seq_no")
        .collect()
    )
    return [(r["id"], r["state"]) for r in rows if r["state"] in ("COMPLETED", "FAILED")]


@pytest.fixture(scope="module")
def add(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pipeline = make_pipeline(spark, tmp_path_factory.mktemp("rs_evo_add"), "rs_evo_add", ADD_PIPELINE)
    landing = pipeline.volume_path(f"{LANDING}/add")
    drop_file(landing, "b1.json", BATCH_1)
    runs = {"u1": pipeline.run()}
    drop_file(landing, "b2.json", BATCH_2)
    runs["u2"] = pipeline.run(retry_on_schema_change=False)
    rows_after_failure = table_rows(pipeline, "evo_add", ["id"])
    runs["u3"] = pipeline.run()
    drop_file(landing, "b3.json", BATCH_3)
    updates_before = len(_update_states(pipeline))
    runs["u4"] = pipeline.run()
    return {
        "pipeline": pipeline,
        "runs": runs,
        "rows_after_failure": rows_after_failure,
        "updates_in_u4": _update_states(pipeline)[updates_before:],
    }


def test_add_new_columns_fails_the_update_naming_the_columns(add):
    result = add["runs"]["u2"]
    assert add["runs"]["u1"].status == "COMPLETED"
    assert result.status == "FAILED"
    assert result.error_class == "NewColumnsDetectedError"
    flow = result.flows["evo_add"]
    assert (flow.status, flow.error_class) == ("FAILED", "NewColumnsDetectedError")
    assert "coupon" in flow.error and "schemaEvolutionMode=addNewColumns" in flow.error
    assert "amount" not in flow.error.split("found new columns:")[1].split("(")[0]
    event = terminal_event(add["pipeline"], result, "evo_add")
    assert event.status == "FAILED"
    assert event.error["exceptions"][0]["class_name"] == "NewColumnsDetectedError"
    # nothing of batch 2 was written by the failed update
    assert add["rows_after_failure"] == [(1,)]


def test_merged_schema_recorded_in_the_schema_location(add):
    schemas = add["pipeline"].volume_path(f"{LANDING}/_schemas/add") / "_schemas"
    versions = sorted(int(p.name) for p in schemas.iterdir() if p.name.isdigit())
    assert versions == [0, 1, 2]  # inferred, + coupon, + note

    def fields(version: int) -> list[str]:
        line = (schemas / str(version)).read_text().splitlines()[1]
        return [f["name"] for f in json.loads(json.loads(line)["dataSchemaJson"])["fields"]]

    assert fields(0) == ["amount", "id", "name"]
    assert fields(1) == ["amount", "id", "name", "coupon"]
    assert fields(2)[-1] == "note"


def test_next_update_reads_with_the_merged_schema(add):
    pipeline = add["pipeline"]
    assert add["runs"]["u3"].status == "COMPLETED"
    assert add["runs"]["u3"].flows["evo_add"].num_output_rows == 1
    table = pipeline.table("evo_add")
    assert table.schema["amount"].dataType == LongType()  # existing columns keep their type
    rows = {r["id"]: r for r in table.collect()}
    assert rows[2]["coupon"] == "X1"
    assert rows[2]["amount"] is None  # "abc" does not fit BIGINT: rescued
    rescued = json.loads(rows[2]["_rescued_data"])
    assert rescued["amount"] == "abc"
    assert rescued["_file_path"].endswith("/add/b2.json")
    assert rows[1]["coupon"] is None and rows[1]["_rescued_data"] is None


def test_run_retries_once_after_new_columns(add):
    result = add["runs"]["u4"]
    assert result.status == "COMPLETED", result.error
    # one run() call = the failed update + its automatic retry
    assert [state for _, state in add["updates_in_u4"]] == ["FAILED", "COMPLETED"]
    assert add["updates_in_u4"][1][0] == result.update_id
    rows = {r["id"]: r for r in add["pipeline"].table("evo_add").collect()}
    assert sorted(rows) == [1, 2, 3]
    assert rows[3]["note"] == "late"


@pytest.fixture(scope="module")
def modes(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pipeline = make_pipeline(spark, tmp_path_factory.mktemp("rs_evo_modes"), "rs_evo_modes", MODES_PIPELINE)
    for directory in ("rescue", "fail", "none"):
        drop_file(pipeline.volume_path(f"{LANDING}/{directory}"), "b1.json", BATCH_1)
    runs = {"u1": pipeline.run()}
    after_u1 = {
        t: table_rows(pipeline, t, ["id", "name", "amount"]) for t in ("evo_rescue", "evo_fail", "evo_none")
    }
    for directory in ("rescue", "fail", "none"):
        drop_file(pipeline.volume_path(f"{LANDING}/{directory}"), "b2.json", BATCH_2)
    updates_before = len(_update_states(pipeline))
    runs["u2"] = pipeline.run()
    updates_in_u2 = len(_update_states(pipeline)) - updates_before
    runs["u3"] = pipeline.run()
    return {"pipeline": pipeline, "runs": runs, "after_u1": after_u1, "updates_in_u2": updates_in_u2}


def test_first_batch_loads_in_every_mode(modes):
    result = modes["runs"]["u1"]
    assert result.status == "COMPLETED", result.error
    assert modes["after_u1"] == {t: [(1, "a", 10)] for t in ("evo_rescue", "evo_fail", "evo_none")}


def test_rescue_never_fails_and_never_evolves(modes):
    pipeline = modes["pipeline"]
    assert modes["runs"]["u2"].flows["evo_rescue"].status == "COMPLETED"
    table = pipeline.table("evo_rescue")
    assert table.columns == ["amount", "id", "name", "_rescued_data"]
    rows = {r["id"]: r for r in table.collect()}
    assert rows[2]["amount"] is None
    rescued = json.loads(rows[2]["_rescued_data"])
    assert {k: rescued[k] for k in ("amount", "coupon")} == {"amount": "abc", "coupon": "X1"}
    assert rescued["_file_path"].endswith("/rescue/b2.json")


def test_fail_on_new_columns_fails_every_update_without_retry(modes):
    pipeline = modes["pipeline"]
    for name in ("u2", "u3"):
        result = modes["runs"][name]
        assert result.status == "FAILED"
        flow = result.flows["evo_fail"]
        assert flow.error_class == "NewColumnsDetectedError"
        assert "coupon" in flow.error and "schemaEvolutionMode=failOnNewColumns" in flow.error
    assert modes["updates_in_u2"] == 1  # not retried: only addNewColumns is
    assert table_rows(pipeline, "evo_fail", ["id"]) == [(1,)]
    assert "coupon" not in pipeline.table("evo_fail").columns


def test_none_ignores_new_columns_and_rescues_nothing(modes):
    pipeline = modes["pipeline"]
    assert modes["runs"]["u2"].flows["evo_none"].status == "COMPLETED"
    table = pipeline.table("evo_none")
    assert table.columns == ["amount", "id", "name"]
    assert table_rows(pipeline, "evo_none", ["id", "name", "amount"]) == [(1, "a", 10), (2, "b", None)]


def test_other_flows_complete_while_fail_on_new_columns_fails(modes):
    result = modes["runs"]["u3"]
    assert result.failed_flows == ["evo_fail"]
    assert result.flows["evo_rescue"].num_output_rows == 0
    assert result.flows["evo_none"].num_output_rows == 0
