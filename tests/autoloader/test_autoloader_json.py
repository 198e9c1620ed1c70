"""JSON through cloud_files_stream: inference, hints, rescued data, corrupt records, odd files, _metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from autoloader_helpers import Rig, rescued
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, DoubleType, IntegerType, LongType, StringType, StructType

from harness.autoloader import SchemaStore, cloud_files_stream
from harness.errors import SchemaInferenceError, UnsupportedOptionError

pytestmark = pytest.mark.spark

ORDER = {
    "id": 1,
    "amount": 12.5,
    "paid": True,
    "address": {"city": "Bonn", "zip": "53111"},
    "tags": ["a", "b"],
}


def test_default_inference_makes_every_leaf_a_string_and_stores_the_schema(rig: Rig) -> None:
    rig.write("o1.json", [ORDER])
    result = rig.update({})
    assert result.error is None
    table = rig.spark.read.format("delta").load(str(rig.target))
    types = {f.name: f.dataType for f in table.schema.fields}
    assert types["id"] == StringType() and types["amount"] == StringType() and types["paid"] == StringType()
    assert types["address"] == StructType.fromJson(
        {
            "type": "struct",
            "fields": [
                {"name": n, "type": "string", "nullable": True, "metadata": {}} for n in ("city", "zip")
            ],
        }
    )
    assert table.columns[-1] == "_rescued_data"
    assert rig.rows()[0]["amount"] == "12.5" and rig.rows()[0]["tags"] == ["a", "b"]
    history = SchemaStore.at(str(rig.schema_location)).history()
    assert [h.version for h in history] == [0] and history[0].info["reason"] == "inferred"
    assert "_rescued_data" not in history[0].schema.fieldNames()


def test_infer_column_types_true_infers_real_types_and_later_updates_reuse_the_stored_schema(
    rig: Rig,
) -> None:
    rig.write("o1.json", [ORDER])
    rig.update({"cloudFiles.inferColumnTypes": "true"})
    rig.write("o2.json", [{**ORDER, "id": 2, "amount": "twelve"}])  # would infer amount as string now
    result = rig.update({"cloudFiles.inferColumnTypes": "true"})
    assert result.error is None
    table = rig.spark.read.format("delta").load(str(rig.target))
    types = {f.name: f.dataType for f in table.schema.fields}
    assert types["id"] == LongType() and types["amount"] == DoubleType()
    rows = rig.rows()
    assert rows[1]["amount"] is None
    assert rescued(rows[1]) == {"amount": "twelve", "_file_path": f"file:{rig.input}/o2.json"}
    assert len(SchemaStore.at(str(rig.schema_location)).history()) == 1


def test_schema_hints_pin_types_add_columns_and_rescue_mismatches(rig: Rig) -> None:
    # A JSON string does not convert to INT in Spark's JSON parser (numbers do), hence the numeric zip.
    first_order = {**ORDER, "address": {"city": "Bonn", "zip": 53111}}
    rig.write(
        "o1.json",
        [first_order, {**ORDER, "id": 2, "amount": "n/a", "address": {"city": "Köln", "zip": "5o667"}}],
    )
    hints = "id BIGINT, amount DECIMAL(18,2), address.zip INT, discount DOUBLE"
    result = rig.update({"cloudFiles.schemaHints": hints})
    assert result.error is None
    table = rig.spark.read.format("delta").load(str(rig.target))
    types = {f.name: f.dataType for f in table.schema.fields}
    assert (
        types["id"] == LongType()
        and types["amount"] == DecimalType(18, 2)
        and types["discount"] == DoubleType()
    )
    assert types["address"]["zip"].dataType == IntegerType()
    first, second = rig.rows()
    assert str(first["amount"]) == "12.50" and first["address"] == {"city": "Bonn", "zip": 53111}
    assert first["_rescued_data"] is None and first["discount"] is None
    assert second["amount"] is None and second["address"] == {"city": "Köln", "zip": None}
    assert rescued(second) == {
        "amount": "n/a",
        "address": {"city": "Köln", "zip": "5o667"},
        "_file_path": f"file:{rig.input}/o1.json",
    }
    assert result.metrics == [{"num_records": 2, "num_corrupt_records": 0, "num_rescued_records": 1}]


def test_rescued_data_for_unknown_field_type_mismatch_and_case_mismatch(rig: Rig) -> None:
    options = {"cloudFiles.schemaEvolutionMode": "rescue", "cloudFiles.schemaHints": "id INT, qty INT"}
    rig.write("base.json", [{"id": 1, "name": "a", "qty": 1}])
    rig.update(options)  # the schema is inferred from base.json only
    rig.write(
        "odd.json",
        [
            {"id": 2, "name": "b", "qty": 2, "coupon": "X1"},  # unknown field
            {"id": 3, "name": "c", "qty": "three"},  # type mismatch (qty hinted INT)
            {"id": 4, "NAME": "d", "qty": 4},  # case mismatch
        ],
    )
    result = rig.update(options, transform=lambda df: df.withColumn("fp", F.col("_metadata.file_path")))
    assert result.error is None
    rows = {r["id"]: r for r in rig.rows()}
    odd = f"file:{rig.input}/odd.json"
    assert rows[1]["_rescued_data"] is None
    assert rescued(rows[2]) == {"coupon": "X1", "_file_path": odd}
    assert rows[3]["qty"] is None and rescued(rows[3]) == {"qty": "three", "_file_path": odd}
    assert rows[4]["name"] is None and rescued(rows[4]) == {"NAME": "d", "_file_path": odd}
    assert rows[2]["fp"] == odd  # _file_path is the row's _metadata.file_path
    assert "coupon" not in rig.spark.read.format("delta").load(str(rig.target)).columns


def test_rescued_column_name_is_configurable(rig: Rig) -> None:
    options = {"rescuedDataColumn": "_bad", "cloudFiles.schemaEvolutionMode": "rescue"}
    rig.write("a.json", [{"id": 1}])
    rig.update(options)
    rig.write("b.json", [{"id": 2, "more": 1}])
    rig.update(options)
    rows = rig.rows()
    assert "_rescued_data" not in rows[0] and rescued(rows[1], "_bad") == {
        "more": 1,
        "_file_path": f"file:{rig.input}/b.json",
    }


def test_malformed_and_odd_lines_are_never_dropped_silently(rig: Rig) -> None:
    rig.write(
        "odd.json",
        b'\xef\xbb\xbf{"id":1,"name":"bom"}\r\n'  # UTF-8 BOM and CRLF
        b'[{"id":2,"name":"arr1"},{"id":3,"name":"arr2"}]\r\n'  # a top-level array: one record per element
        b"\r\n   \n"  # blank lines: no records (as Spark's JSON reader)
        b'{"id":4,"name":"broken"\n'  # malformed
        b'{"id":5,"name":"caf\xe9"}\n'  # Latin-1 byte in a UTF-8 file
        b'{"id":6,"name":"truncated"',  # last line cut off, no newline
    )
    rig.write("empty.json", b"")
    options = {"cloudFiles.schemaHints": "id INT, _corrupt_record STRING"}
    result = rig.update(options)
    assert result.error is None
    rows = rig.spark.read.format("delta").load(str(rig.target)).orderBy("id", "_corrupt_record").collect()
    by_id = {r["id"]: r for r in rows if r["id"] is not None}
    assert by_id[1]["name"] == "bom" and by_id[2]["name"] == "arr1" and by_id[3]["name"] == "arr2"
    assert by_id[5]["name"] == "caf\ufffd"  # undecodable byte replaced, record kept
    corrupt = sorted(r["_corrupt_record"] for r in rows if r["id"] is None)
    assert corrupt == ['{"id":4,"name":"broken"', '{"id":6,"name":"truncated"']
    assert all(r["name"] is None and r["_rescued_data"] is None for r in rows if r["id"] is None)
    assert result.metrics == [{"num_records": 6, "num_corrupt_records": 2, "num_rescued_records": 0}]


def test_malformed_lines_without_corrupt_column_stay_as_null_rows_and_are_counted(rig: Rig) -> None:
    rig.write("a.json", '{"id":1}\nnot json\n')
    result = rig.update({"cloudFiles.schemaHints": "id INT"})
    assert [r["id"] for r in rig.rows()] == [None, 1]
    assert result.metrics[0]["num_corrupt_records"] == 1


def test_metadata_column_stays_resolvable(rig: Rig) -> None:
    path = rig.write("m.json", [{"id": 1}])

    def with_metadata(df):
        return df.select(
            "*",
            F.col("_metadata.file_path").alias("file_path"),
            F.col("_metadata.file_name").alias("file_name"),
            F.col("_metadata.file_size").alias("file_size"),
            F.col("_metadata.file_modification_time").alias("mtime"),
        )

    assert rig.update({}, transform=with_metadata).error is None
    row = rig.rows()[0]
    assert row["file_path"] == f"file:{path}" and row["file_name"] == "m.json"
    assert row["file_size"] == path.stat().st_size
    assert row["mtime"].replace(tzinfo=UTC) == datetime.fromtimestamp(rig.clock / 1000, tz=UTC).replace(
        tzinfo=UTC
    )
    assert "_metadata" in rig.stream({}).select("*", "_metadata").columns


def test_multiline_json_and_other_encodings(rig: Rig) -> None:
    rig.write("pretty.json", json.dumps([{"id": 1, "name": "x"}, {"id": 2, "name": "y"}], indent=2))
    rig.update({"multiLine": "true", "cloudFiles.schemaHints": "id INT"})
    assert [(r["id"], r["name"]) for r in rig.rows()] == [(1, "x"), (2, "y")]

    other = Rig(rig.spark, rig.root / "utf16")
    other.write("u.json", '{"id":1,"name":"é"}\n{"id":2,"name":"ß"}\n'.encode("utf-16le"))
    # Spark's JSON reader (used for inference) needs lineSep with a non-UTF-8 line-delimited encoding.
    other.update({"encoding": "UTF-16LE", "lineSep": "\n", "cloudFiles.schemaHints": "id INT"})
    assert [(r["id"], r["name"]) for r in other.rows()] == [(1, "é"), (2, "ß")]


def test_user_schema_defaults_to_mode_none_without_rescue(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1, "x": 1}, {"id": "bad"}])
    rig.update({}, schema="id INT")
    assert rig.rows() == [{"id": None}, {"id": 1}]
    assert not (rig.schema_location / "_schemas").exists()


def test_user_schema_with_explicit_rescued_column(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1, "x": 1}])
    rig.update({"rescuedDataColumn": "_rescued_data"}, schema="id INT")
    assert rescued(rig.rows()[0]) == {"x": 1, "_file_path": f"file:{rig.input}/a.json"}


def test_add_new_columns_with_a_user_schema_is_refused(rig: Rig) -> None:
    rig.write("a.json", [{"id": 1}])
    with pytest.raises(UnsupportedOptionError) as info:
        rig.stream({"cloudFiles.schemaEvolutionMode": "addNewColumns"}, schema="id INT")
    assert info.value.option == "cloudFiles.schemaEvolutionMode"


def test_nothing_to_infer_from_is_a_named_error(rig: Rig) -> None:
    rig.input.mkdir()
    with pytest.raises(SchemaInferenceError) as info:
        rig.stream({})
    assert info.value.source == rig.source_name and info.value.path == str(rig.input)


def test_dropmalformed_drops_but_counts_and_failfast_fails(rig: Rig) -> None:
    rig.write("a.json", '{"id":1}\n{"id":\n')
    result = rig.update({"cloudFiles.schemaHints": "id INT", "mode": "DROPMALFORMED"})
    assert [r["id"] for r in rig.rows()] == [1]
    assert result.metrics[0]["num_corrupt_records"] == 1

    strict = Rig(rig.spark, rig.root / "strict")
    strict.write("a.json", '{"id":1}\n{"id":\n')
    failed = strict.update({"cloudFiles.schemaHints": "id INT", "mode": "FAILFAST"})
    assert failed.error is not None and "FAILFAST" in str(failed.error) and strict.rows() == []


def test_partition_directories_and_glob_paths(rig: Rig) -> None:
    rig.write("date=2026-01-01/a.json", [{"id": 1}])
    rig.write("date=2026-01-02/b.json", [{"id": 2}])
    rig.update({"cloudFiles.schemaHints": "id INT"})
    assert [(r["id"], str(r["date"])) for r in rig.rows()] == [(1, "2026-01-01"), (2, "2026-01-02")]

    globbed = Rig(rig.spark, rig.root / "glob")
    globbed.write("keep_1.json", [{"id": 1}])
    globbed.write("skip_2.json", [{"id": 2}])
    df = cloud_files_stream(
        rig.spark,
        f"{globbed.input}/keep_*.json",
        {"cloudFiles.format": "json", "cloudFiles.schemaHints": "id INT"},
        None,
        default_schema_location=str(globbed.schema_location),
        source_name="glob",
    )
    query = (
        df.writeStream.format("delta")
        .option("checkpointLocation", str(globbed.checkpoint))
        .trigger(availableNow=True)
        .start(str(globbed.target))
    )
    query.awaitTermination()
    assert [r["id"] for r in globbed.rows()] == [1]
