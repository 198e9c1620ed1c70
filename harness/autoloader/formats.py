"""Per-format frames on top of a native file stream: CSV, Parquet/ORC, text and binaryFile.

JSON lives in json_records.py (it needs the record-level machinery). The other formats read with
Spark's own streaming reader and then convert: CSV reads every column as STRING and converts with
``try_cast``, so a value that does not fit its (inferred or hinted) type lands in the rescued data
column instead of failing; Parquet/ORC read the file types and ``try_cast`` to hinted types, and
columns the files have beyond the schema are rescued. Each function returns its frame with the
helper flags `CORRUPT` and `RESCUED` that the metrics read.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType, TimestampType

from harness.autoloader.json_records import CORRUPT, RESCUED

BINARY_FILE_SCHEMA = StructType(
    [
        StructField("path", StringType(), False),
        StructField("modificationTime", TimestampType(), False),
        StructField("length", LongType(), False),
        StructField("content", BinaryType(), True),
    ]
)
TEXT_SCHEMA = StructType([StructField("value", StringType(), True)])


@dataclass(frozen=True)
class FrameSpec:
    """The columns a source must produce."""

    data_schema: StructType  # typed columns (without rescued / corrupt column)
    output_names: tuple[str, ...]  # final order of the typed columns (may include the corrupt column)
    corrupt_column: str | None  # declared in the schema: raw text of malformed records
    corrupt_name: str  # Spark's corrupt-record column name (columnNameOfCorruptRecord)
    rescued_column: str | None


def _rescued(spec: FrameSpec, parts: list[Column], any_rescued: Column, file_path: Column) -> Column:
    """``{"col": raw, ..., "_file_path": ...}``: to_json drops the NULL members (nothing to rescue)."""
    payload = F.to_json(F.struct(*parts, file_path.alias("_file_path")))
    return F.when(any_rescued, payload)


def csv_read_schema(spec: FrameSpec) -> StructType:
    """Every column as STRING plus Spark's corrupt-record column: conversion happens after the read."""
    fields = [StructField(f.name, StringType(), True) for f in spec.data_schema.fields]
    return StructType([*fields, StructField(spec.corrupt_name, StringType(), True)])


def csv_frame(raw: DataFrame, spec: FrameSpec, file_path: Column, passthrough: list[str]) -> DataFrame:
    corrupt = F.col(spec.corrupt_name).isNotNull()
    typed: dict[str, Column] = {}
    mismatched: list[Column] = []
    parts: list[Column] = []
    for f in spec.data_schema.fields:
        source = F.col(f"`{f.name}`")
        value = source if isinstance(f.dataType, StringType) else source.try_cast(f.dataType)
        typed[f.name] = value
        if not isinstance(f.dataType, StringType):
            bad = source.isNotNull() & value.isNull()
            mismatched.append(bad)
            parts.append(F.when(bad, source).alias(f.name))
    any_bad = F.lit(False)
    for bad in mismatched:
        any_bad = any_bad | bad
    columns: list[Column] = []
    for name in spec.output_names:
        if name == spec.corrupt_column:
            columns.append(F.col(f"`{spec.corrupt_name}`").alias(name))
        else:
            columns.append(typed[name].alias(name))
    columns.extend(F.col(f"`{c}`") for c in passthrough)
    rescued = _rescued(spec, parts, any_bad & ~corrupt, file_path)
    if spec.rescued_column:
        columns.append(rescued.alias(spec.rescued_column))
    columns += [corrupt.alias(CORRUPT), rescued.isNotNull().alias(RESCUED)]
    return raw.select(*columns)


def columnar_frame(raw: DataFrame, spec: FrameSpec, file_path: Column, passthrough: list[str]) -> DataFrame:
    """Parquet / ORC: cast hinted columns, rescue values that do not convert and unknown columns."""
    available = {f.name.lower(): f for f in raw.schema.fields}
    wanted = {f.name.lower() for f in spec.data_schema.fields} | {p.lower() for p in passthrough}
    typed: dict[str, Column] = {}
    parts: list[Column] = []
    any_rescued = F.lit(False)
    for f in spec.data_schema.fields:
        src = available.get(f.name.lower())
        if src is None:
            typed[f.name] = F.lit(None).cast(f.dataType)
            continue
        source = F.col(f"`{src.name}`")
        if src.dataType == f.dataType:
            typed[f.name] = source
            continue
        value = source.try_cast(f.dataType)
        bad = source.isNotNull() & value.isNull()
        typed[f.name] = value
        parts.append(F.when(bad, source).alias(src.name))
        any_rescued = any_rescued | bad
    for name, field in available.items():
        if name not in wanted:  # columns the files have and the schema does not
            parts.append(F.col(f"`{field.name}`"))
            any_rescued = any_rescued | F.col(f"`{field.name}`").isNotNull()
    columns = [typed[name].alias(name) for name in spec.output_names]
    columns.extend(F.col(f"`{c}`") for c in passthrough)
    rescued = _rescued(spec, parts, any_rescued, file_path)
    if spec.rescued_column:
        columns.append(rescued.alias(spec.rescued_column))
    columns += [F.lit(False).alias(CORRUPT), rescued.isNotNull().alias(RESCUED)]
    return raw.select(*columns)


def plain_frame(raw: DataFrame) -> DataFrame:
    """text / binaryFile: fixed schema, nothing to rescue."""
    return raw.select("*", F.lit(False).alias(CORRUPT), F.lit(False).alias(RESCUED))
