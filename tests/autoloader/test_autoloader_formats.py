"""CSV, Parquet, text and binaryFile through cloud_files_stream."""

from __future__ import annotations

import pytest
from autoloader_helpers import Rig, rescued
from pyspark.sql.types import IntegerType, LongType, StringType

from harness.autoloader import SchemaStore
from harness.errors import NewColumnsDetectedError

pytestmark = pytest.mark.spark


def test_csv_strings_by_default_hints_convert_and_mismatches_are_rescued(rig: Rig) -> None:
    rig.write("a.csv", "id;name;qty\n1;anna;3\n2;bob;lots\n3;carl\n")
    options = {"cloudFiles.format": "csv", "header": "true", "sep": ";"}
    assert rig.update(options).error is None
    table = rig.spark.read.format("delta").load(str(rig.target))
    assert {f.name: f.dataType for f in table.schema.fields}["qty"] == StringType()

    typed = Rig(rig.spark, rig.root / "typed")
    typed.write("a.csv", "id;name;qty\n1;anna;3\n2;bob;lots\n3;carl\n")
    result = typed.update({**options, "cloudFiles.schemaHints": "id INT, qty INT"})
    assert result.error is None
    rows = {r["id"]: r for r in typed.rows()}
    assert rows[1]["qty"] == 3 and rows[1]["_rescued_data"] is None
    assert rows[2]["qty"] is None and rescued(rows[2]) == {
        "qty": "lots",
        "_file_path": f"file:{typed.input}/a.csv",
    }
    assert rows[3]["name"] == "carl" and rows[3]["qty"] is None  # short row: malformed for Spark's CSV reader
    assert result.metrics == [{"num_records": 3, "num_corrupt_records": 1, "num_rescued_records": 1}]


def test_csv_infer_column_types(rig: Rig) -> None:
    rig.write("a.csv", "id,qty\n1,3\n2,4\n")
    rig.update({"cloudFiles.format": "csv", "header": "true", "cloudFiles.inferColumnTypes": "true"})
    table = rig.spark.read.format("delta").load(str(rig.target))
    assert {f.name: f.dataType for f in table.schema.fields}["qty"] == IntegerType()
    assert [r["qty"] for r in rig.rows()] == [3, 4]


def write_parquet(rig: Rig, name: str, ddl: str, rows: list[tuple]) -> None:
    staging = rig.root / "staging" / name
    rig.spark.createDataFrame(rows, ddl).coalesce(1).write.parquet(str(staging))
    part = next(staging.glob("part-*.parquet"))
    rig.write(name, part.read_bytes())


def test_parquet_schema_from_the_files_hints_cast_and_new_columns_evolve(rig: Rig) -> None:
    write_parquet(rig, "a.parquet", "id long, amount string", [(1, "1.5"), (2, "n/a")])
    options = {"cloudFiles.format": "parquet", "cloudFiles.schemaHints": "amount DOUBLE"}
    assert rig.update(options).error is None
    rows = {r["id"]: r for r in rig.rows()}
    assert rows[1]["amount"] == 1.5 and rows[1]["_rescued_data"] is None
    assert rescued(rows[2]) == {"amount": "n/a", "_file_path": f"file:{rig.input}/a.parquet"}
    table = rig.spark.read.format("delta").load(str(rig.target))
    assert {f.name: f.dataType for f in table.schema.fields}["id"] == LongType()

    write_parquet(rig, "b.parquet", "id long, amount string, extra string", [(3, "2", "x")])
    with pytest.raises(NewColumnsDetectedError) as info:  # found in the footers when the stream starts
        rig.stream(options)
    assert info.value.columns == ["extra"] and info.value.mode == "addNewColumns"
    assert SchemaStore.at(str(rig.schema_location)).latest().schema.fieldNames() == ["id", "amount", "extra"]
    assert rig.update(options).error is None
    assert {r["id"]: r["extra"] for r in rig.rows()} == {1: None, 2: None, 3: "x"}


def test_parquet_rescue_mode_rescues_unknown_columns(rig: Rig) -> None:
    options = {"cloudFiles.format": "parquet", "cloudFiles.schemaEvolutionMode": "rescue"}
    write_parquet(rig, "a.parquet", "id long", [(1,)])
    rig.update(options)
    write_parquet(rig, "b.parquet", "id long, extra string", [(2, "x")])
    assert rig.update(options).error is None
    rows = {r["id"]: r for r in rig.rows()}
    assert rescued(rows[2]) == {"extra": "x", "_file_path": f"file:{rig.input}/b.parquet"}


def test_text_and_binary_file(rig: Rig) -> None:
    rig.write("a.txt", "line one\nline two\n")
    result = rig.update({"cloudFiles.format": "text"})
    assert result.error is None and sorted(r["value"] for r in rig.rows("value")) == ["line one", "line two"]

    binary = Rig(rig.spark, rig.root / "bin")
    binary.write("img.bin", b"\x00\x01\x02")
    assert binary.update({"cloudFiles.format": "binaryFile"}).error is None
    row = binary.rows("path")[0]
    assert row["content"] == bytearray(b"\x00\x01\x02") and row["length"] == 3
    assert row["path"] == f"file:{binary.input}/img.bin"
