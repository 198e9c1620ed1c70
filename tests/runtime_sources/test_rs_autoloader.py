"""Auto Loader inside a pipeline on /Volumes paths: exactly once across updates, inference defaults,
schema hints, persisted schema location, rescued data, corrupt records, rate limits, `_metadata`,
option reporting and the flow_progress metrics (issue 4, points 1 and 5).

One pipeline ("al") with four Auto Loader flows runs three updates:
  1. files a.json (2 records) and b.json (1 record + 1 corrupt line) for `events_bronze`, plus the
     files of the other flows;
  2. c.json (1 record) lands between the updates;
  3. nothing new.
A second pipeline ("al_strict") shows that an unknown cloudFiles option fails the update by name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql.types import DecimalType, IntegerType, LongType, StringType
from runtime_sources_helpers import (
    delta_version,
    drop_file,
    flow_events,
    make_pipeline,
    metrics,
    table_rows,
    terminal_event,
)

pytestmark = pytest.mark.spark

LANDING = "/Volumes/main/raw/landing"

PIPELINE = f'''
import dlt
from pyspark.sql.functions import col


@dlt.table(comment="JSON events, every option at its default except the rate limit")
def events_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.schemaLocation", "{LANDING}/_schemas/events")
        .option("cloudFiles.schemaHints", "_corrupt_record STRING")
        .option("cloudFiles.maxFilesPerTrigger", 1)
        .load("{LANDING}/events")
        .select(
            "*",
            col("_metadata.file_path").alias("file_path"),
            col("_metadata.file_name").alias("file_name"),
            col("_metadata.file_size").alias("file_size"),
            col("_metadata.file_modification_time").alias("file_modification_time"),
        )
    )


@dlt.table
def typed_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.inferColumnTypes", "true")
        .option("cloudFiles.schemaHints", "amount DECIMAL(10,2), qty INT")
        .load("{LANDING}/typed")
    )


@dlt.table
def csv_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "csv")
        .option("header", "true")
        .option("cloudFiles.inferColumnTypes", "true")
        .load("{LANDING}/csv")
    )


@dlt.table
def lenient_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.validateOptions", "false")
        .option("cloudFiles.fooBar", "1")
        .load("{LANDING}/lenient")
    )
'''

STRICT_PIPELINE = f'''
import dlt


@dlt.table
def strict_bronze():
    return (
        spark.readStream.format("cloudFiles")
        .option("cloudFiles.format", "json")
        .option("cloudFiles.shemaLocation", "{LANDING}/_schemas/typo")
        .load("{LANDING}/strict")
    )
'''


def _file_facts(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {
        "file_name": path.name,
        "file_size": stat.st_size,
        "file_modification_time": datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None),
    }


@pytest.fixture(scope="module")
def al(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rs_autoloader")
    pipeline = make_pipeline(spark, base, "rs_al", PIPELINE)
    events = pipeline.volume_path(f"{LANDING}/events")
    files = {
        "a": drop_file(events, "a.json", [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]),
        "b": drop_file(events, "b.json", '{"id": 3, "v": "z"}\n{bad json\n'),
    }
    drop_file(
        pipeline.volume_path(f"{LANDING}/typed"),
        "t1.json",
        [
            {"id": 1, "name": "pen", "amount": 1.5, "qty": 2},
            {"id": 2, "name": "ink", "amount": 20.25, "qty": "three", "extra": True},
        ],
    )
    drop_file(pipeline.volume_path(f"{LANDING}/csv"), "c1.csv", "id,name,price\n1,pen,1.5\n2,ink,20.25\n")
    drop_file(pipeline.volume_path(f"{LANDING}/lenient"), "l1.json", [{"id": 1}])
    runs = {"u1": pipeline.run()}
    sizes = {"u1": sum(p.stat().st_size for p in files.values())}
    snapshot_u1 = table_rows(pipeline, "events_bronze", ["id", "v", "file_name"])
    files["c"] = drop_file(events, "c.json", [{"id": 4, "v": "w"}])
    runs["u2"] = pipeline.run()
    version_u2 = delta_version(spark, pipeline.table_path("events_bronze"))
    runs["u3"] = pipeline.run()
    return {
        "pipeline": pipeline,
        "runs": runs,
        "files": files,
        "sizes": sizes,
        "snapshot_u1": snapshot_u1,
        "version_u2": version_u2,
    }


def test_updates_complete(al):
    for name, result in al["runs"].items():
        assert result.status == "COMPLETED", (name, result.error)


def test_each_file_read_exactly_once_across_updates(al, spark):
    pipeline = al["pipeline"]
    assert al["snapshot_u1"] == [
        (None, None, "b.json"),
        ("1", "x", "a.json"),
        ("2", "y", "a.json"),
        ("3", "z", "b.json"),
    ]
    rows = table_rows(pipeline, "events_bronze", ["id", "v", "file_name"])
    # c.json, landed between updates 1 and 2, was read by update 2 only; nothing was read twice.
    assert rows == [*al["snapshot_u1"], ("4", "w", "c.json")]
    assert al["runs"]["u2"].flows["events_bronze"].num_output_rows == 1
    # update 3 found nothing new: no rows, no commit
    assert al["runs"]["u3"].flows["events_bronze"].num_output_rows == 0
    assert delta_version(spark, pipeline.table_path("events_bronze")) == al["version_u2"]


def test_flow_progress_reports_files_bytes_rows_and_corrupt_records(al):
    pipeline, runs, files = al["pipeline"], al["runs"], al["files"]
    first = metrics(pipeline, runs["u1"], "events_bronze")
    assert first == {
        "num_output_rows": 4,
        "num_files_read": 2,
        "num_bytes_read": al["sizes"]["u1"],
        "num_corrupt_records": 1,
        "num_rescued_records": 0,
    }
    second = metrics(pipeline, runs["u2"], "events_bronze")
    assert second["num_output_rows"] == 1
    assert (second["num_files_read"], second["num_bytes_read"]) == (1, files["c"].stat().st_size)
    assert second["num_corrupt_records"] == 0
    third = metrics(pipeline, runs["u3"], "events_bronze")
    assert (third["num_output_rows"], third["num_files_read"], third["num_bytes_read"]) == (0, 0, 0)


def test_max_files_per_trigger_gives_one_batch_per_file(al):
    event = terminal_event(al["pipeline"], al["runs"]["u1"], "events_bronze")
    assert event.details["num_batches"] == 2
    assert al["runs"]["u2"].flows["events_bronze"].num_batches == 1


def test_corrupt_line_is_kept_and_visible(al):
    rows = al["pipeline"].table("events_bronze").where("file_name = 'b.json'").collect()
    corrupt = [r for r in rows if r["_corrupt_record"] is not None]
    assert [(r["id"], r["v"], r["_corrupt_record"]) for r in corrupt] == [(None, None, "{bad json")]
    assert [r["id"] for r in rows if r["_corrupt_record"] is None] == ["3"]


def test_json_columns_are_strings_by_default(al):
    schema = al["pipeline"].table("events_bronze").schema
    assert schema["id"].dataType == StringType()
    assert schema["v"].dataType == StringType()
    assert "_rescued_data" in schema.fieldNames()


def test_metadata_columns_describe_the_source_file(al):
    pipeline = al["pipeline"]
    rows = pipeline.table("events_bronze").where("id IS NOT NULL").collect()
    by_file = {r["file_name"]: r for r in rows}
    for key in ("a", "b", "c"):
        path = al["files"][key]
        row = by_file[path.name]
        facts = _file_facts(path)
        assert row["file_size"] == facts["file_size"]
        assert row["file_modification_time"] == facts["file_modification_time"]
        assert row["file_path"] == path.resolve().as_uri().replace("file:///", "file:/")


def test_schema_location_on_a_volume_is_persisted(al):
    pipeline = al["pipeline"]
    schemas = pipeline.volume_path(f"{LANDING}/_schemas/events") / "_schemas"
    assert sorted(p.name for p in schemas.iterdir() if not p.name.startswith(".")) == ["0"]
    lines = (schemas / "0").read_text().splitlines()
    assert lines[0] == "v1"
    stored = json.loads(json.loads(lines[1])["dataSchemaJson"])
    assert {f["name"]: f["type"] for f in stored["fields"]} == {"id": "string", "v": "string"}


def test_infer_column_types_with_hints_and_rescued_data(al):
    pipeline = al["pipeline"]
    table = pipeline.table("typed_bronze")
    types = {f.name: f.dataType for f in table.schema.fields}
    assert types["id"] == LongType()
    assert types["name"] == StringType()
    assert types["amount"] == DecimalType(10, 2)
    assert types["qty"] == IntegerType()
    rows = {r["id"]: r for r in table.collect()}
    assert rows[1]["qty"] == 2 and rows[1]["_rescued_data"] is None
    assert str(rows[2]["amount"]) == "20.25"
    assert rows[2]["qty"] is None
    rescued = json.loads(rows[2]["_rescued_data"])
    assert rescued["qty"] == "three"
    assert set(rescued) == {"qty", "_file_path"}
    assert rows[2]["extra"] is True  # inferred from the sample: a column, not rescued
    assert rescued["_file_path"].endswith("/typed/t1.json")
    assert metrics(pipeline, al["runs"]["u1"], "typed_bronze")["num_rescued_records"] == 1


def test_csv_with_inferred_types(al):
    table = al["pipeline"].table("csv_bronze")
    assert table.schema["id"].dataType == IntegerType()
    assert sorted((r["id"], r["name"], r["price"]) for r in table.collect()) == [
        (1, "pen", 1.5),
        (2, "ink", 20.25),
    ]


def test_unknown_option_is_a_warning_naming_it_when_validation_is_off(al):
    pipeline = al["pipeline"]
    warnings = [e for e in flow_events(pipeline, al["runs"]["u1"]) if e.level == "WARN"]
    named = [e for e in warnings if "cloudFiles.fooBar" in e.message]
    assert named, [e.message for e in warnings]
    assert named[0].flow == "lenient_bronze"
    assert table_rows(pipeline, "lenient_bronze", ["id"]) == [("1",)]


@pytest.fixture(scope="module")
def strict(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("rs_autoloader_strict")
    pipeline = make_pipeline(spark, base, "rs_al_strict", STRICT_PIPELINE)
    drop_file(pipeline.volume_path(f"{LANDING}/strict"), "s1.json", [{"id": 1}])
    return pipeline, pipeline.run()


def test_unknown_option_fails_the_update_by_name(strict):
    pipeline, result = strict
    assert result.status == "FAILED"
    assert result.error_class == "UnsupportedOptionError"
    assert "cloudFiles.shemaLocation" in result.error
    failed = (
        pipeline.event_log()
        .where(f"origin.update_id = '{result.update_id}' AND level = 'ERROR'")
        .select("message")
        .collect()
    )
    assert any("cloudFiles.shemaLocation" in r["message"] for r in failed)
