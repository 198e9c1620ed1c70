"""Validate an AUTO CDC / snapshot CDC definition against a source schema and resolve it into a plan.

Every rule Databricks enforces when the flow is defined is checked here, in one place, and raises
`CdcDefinitionError(flow, reason)`; the SCD appliers then trust the plan. Resolution needs the source
schema (keys, column lists and expressions are checked against it), so it happens per batch: cheap,
analysis only, no Spark job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    MapType,
    StructField,
    StructType,
    VariantType,
)

from harness.cdc.model import END_AT, INTERNAL_PREFIX, START_AT
from harness.errors import CdcDefinitionError
from harness.shim.records import CdcFlowDef, SnapshotCdcFlowDef

_COLUMN_REPR = re.compile(r"^Column<'(.*)'>$")


@dataclass(frozen=True, eq=False)
class CdcPlan:
    """A definition resolved against one source schema: what the SCD appliers need, nothing more."""

    flow: str
    scd_type: int
    keys: tuple[str, ...]
    columns: tuple[str, ...]  # every target column except __START_AT/__END_AT, in output order
    source_schema: StructType  # types of `columns` as they come from the source
    sequence: Column | None  # None for snapshot flows (the version is the sequence)
    sequence_type: DataType
    delete_when: Column | None = None
    truncate_when: Column | None = None
    where: Column | None = None
    ignore_null_columns: frozenset[str] = frozenset()
    tracked_columns: tuple[str, ...] = ()  # SCD2 only: changes to these open a new version

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.keys)

    @property
    def target_schema(self) -> StructType:
        """Target columns: the selected source columns (all nullable), plus validity columns for SCD2."""
        fields = [StructField(f.name, f.dataType, True) for f in self.source_schema.fields]
        if self.scd_type == 2:
            fields += [
                StructField(START_AT, self.sequence_type, True),
                StructField(END_AT, self.sequence_type, True),
            ]
        return StructType(fields)


def cdc_target_schema(source_schema: StructType, spec: CdcFlowDef) -> StructType:
    """The target table's columns for an AUTO CDC flow reading `source_schema`.

    column_list / except_column_list applied; SCD2 adds __START_AT and __END_AT typed as the
    sequence_by expression, as Databricks documents. Needs an active SparkSession to type expressions.
    """
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("cdc_target_schema needs an active SparkSession to resolve sequence_by")
    return resolve_cdc_plan(spark.createDataFrame([], source_schema), spec).target_schema


def resolve_cdc_plan(source: DataFrame, spec: CdcFlowDef) -> CdcPlan:
    """Check `spec` against the columns of `source` (a micro-batch) and resolve it."""
    flow = spec.name
    scd_type = _scd_type(flow, spec.stored_as_scd_type)
    schema = source.schema
    names = _names(schema)
    keys = _keys(flow, spec.keys, names)
    columns = _selected_columns(flow, names, keys, spec.column_list, spec.except_column_list)
    _check_reserved(flow, columns, scd_type)
    value_columns = tuple(c for c in columns if c not in keys)

    if spec.sequence_by is None:
        raise CdcDefinitionError(
            flow, "sequence_by is required: name the column that orders the change events"
        )
    sequence = (
        F.col(_quote(_lookup(flow, names, spec.sequence_by, "sequence_by")))
        if isinstance(spec.sequence_by, str)
        else _as_column(flow, spec.sequence_by, "sequence_by")
    )
    sequence_type = _expression_type(flow, source, sequence, "sequence_by")
    if not _orderable(sequence_type):
        raise CdcDefinitionError(
            flow, f"sequence_by must have a sortable type, got {sequence_type.simpleString()}"
        )

    if scd_type == 2 and spec.apply_as_truncates is not None:
        raise CdcDefinitionError(flow, "apply_as_truncates is only supported with stored_as_scd_type=1")
    delete_when = _condition(flow, source, spec.apply_as_deletes, "apply_as_deletes")
    truncate_when = _condition(flow, source, spec.apply_as_truncates, "apply_as_truncates")
    where = _condition(flow, source, spec.where, "where")

    return CdcPlan(
        flow=flow,
        scd_type=scd_type,
        keys=keys,
        columns=columns,
        source_schema=StructType([schema[names[c.lower()]] for c in columns]),
        sequence=sequence,
        sequence_type=sequence_type,
        delete_when=delete_when,
        truncate_when=truncate_when,
        where=where,
        ignore_null_columns=_ignore_null_columns(flow, spec, value_columns),
        tracked_columns=_tracked_columns(
            flow,
            scd_type,
            value_columns,
            spec.track_history_column_list,
            spec.track_history_except_column_list,
        ),
    )


def resolve_snapshot_plan(snapshot: DataFrame, spec: SnapshotCdcFlowDef, version_type: DataType) -> CdcPlan:
    """Check a snapshot flow against one snapshot's columns; the snapshot version is the sequence."""
    flow = spec.name
    scd_type = _scd_type(flow, spec.stored_as_scd_type)
    schema = snapshot.schema
    names = _names(schema)
    keys = _keys(flow, spec.keys, names)
    columns = tuple(f.name for f in schema.fields)
    _check_reserved(flow, columns, scd_type)
    value_columns = tuple(c for c in columns if c not in keys)
    return CdcPlan(
        flow=flow,
        scd_type=scd_type,
        keys=keys,
        columns=columns,
        source_schema=schema,
        sequence=None,
        sequence_type=version_type,
        tracked_columns=_tracked_columns(
            flow,
            scd_type,
            value_columns,
            spec.track_history_column_list,
            spec.track_history_except_column_list,
        ),
    )


# --- helpers -----------------------------------------------------------------------------------------


def _scd_type(flow: str, value: Any) -> int:
    if str(value).strip() in ("1", "2"):
        return int(str(value).strip())
    raise CdcDefinitionError(flow, f"stored_as_scd_type must be 1 or 2, got {value!r}")


def _names(schema: StructType) -> dict[str, str]:
    """Lower-cased name -> name as spelled in the schema (Spark resolves columns case-insensitively)."""
    return {f.name.lower(): f.name for f in schema.fields}


def _lookup(flow: str, names: dict[str, str], name: str, parameter: str) -> str:
    found = names.get(name.lower())
    if found is None:
        raise CdcDefinitionError(
            flow,
            f"{parameter} names column {name!r}, which is not among the available columns "
            f"({', '.join(names.values())})",
        )
    return found


def _column_name(flow: str, key: Any, parameter: str) -> str:
    """A plain column name from a string or an unqualified col(): col("source.userId") is rejected."""
    if isinstance(key, Column):
        match = _COLUMN_REPR.match(str(key))
        if match is None:
            raise CdcDefinitionError(flow, f"{parameter} must be column names or col('name'), got {key}")
        key = match.group(1)
    if not isinstance(key, str) or not key:
        raise CdcDefinitionError(flow, f"{parameter} must be column names, got {key!r}")
    if key.startswith("`") and key.endswith("`") and len(key) > 1:
        return key[1:-1].replace("``", "`")
    if "." in key:
        raise CdcDefinitionError(
            flow,
            f"{parameter} entry {key!r} is qualified; use the unqualified column name (e.g. col('userId'))",
        )
    return key


def _keys(flow: str, keys: Sequence[Any], names: dict[str, str]) -> tuple[str, ...]:
    if not keys:
        raise CdcDefinitionError(flow, "keys is required: name the column(s) that identify a row")
    resolved = tuple(_lookup(flow, names, _column_name(flow, k, "keys"), "keys") for k in keys)
    if len({k.lower() for k in resolved}) != len(resolved):
        raise CdcDefinitionError(flow, f"keys lists a column twice: {list(resolved)}")
    return resolved


def _name_list(flow: str, values: Iterable[Any], names: dict[str, str], parameter: str) -> list[str]:
    return [_lookup(flow, names, _column_name(flow, v, parameter), parameter) for v in values]


def _selected_columns(
    flow: str,
    names: dict[str, str],
    keys: tuple[str, ...],
    column_list: Sequence[Any] | None,
    except_column_list: Sequence[Any] | None,
) -> tuple[str, ...]:
    if column_list is not None and except_column_list is not None:
        raise CdcDefinitionError(flow, "column_list and except_column_list cannot be set together; use one")
    if column_list is not None:
        chosen = _name_list(flow, column_list, names, "column_list")
        missing = [k for k in keys if k not in chosen]
        if missing:
            raise CdcDefinitionError(flow, f"column_list must include the keys; missing {missing}")
        return tuple(dict.fromkeys(chosen))
    excluded = set(_name_list(flow, except_column_list or (), names, "except_column_list"))
    dropped_keys = [k for k in keys if k in excluded]
    if dropped_keys:
        raise CdcDefinitionError(flow, f"except_column_list cannot exclude the keys {dropped_keys}")
    return tuple(n for n in names.values() if n not in excluded)


def _check_reserved(flow: str, columns: tuple[str, ...], scd_type: int) -> None:
    for column in columns:
        if column.lower().startswith(INTERNAL_PREFIX):
            raise CdcDefinitionError(flow, f"column {column!r} uses the reserved prefix {INTERNAL_PREFIX!r}")
        if scd_type == 2 and column.upper() in (START_AT, END_AT):
            raise CdcDefinitionError(
                flow,
                f"column {column!r} is reserved for SCD type 2 history; exclude it with except_column_list",
            )


def _as_column(flow: str, value: Any, parameter: str) -> Column:
    if isinstance(value, Column):
        return value
    if isinstance(value, str):
        try:
            return F.expr(value)
        except Exception as exc:  # pyspark raises ParseException here, typed per mode
            raise CdcDefinitionError(
                flow, f"{parameter} {value!r} is not a valid SQL expression: {exc}"
            ) from exc
    raise CdcDefinitionError(
        flow, f"{parameter} must be a SQL string or a Column, got {type(value).__name__}"
    )


def _expression_type(flow: str, source: DataFrame, expression: Column, parameter: str) -> DataType:
    try:
        return source.select(expression.alias("x")).schema["x"].dataType
    except AnalysisException as exc:
        raise CdcDefinitionError(flow, f"{parameter} cannot be resolved against the source: {exc}") from exc


def _condition(flow: str, source: DataFrame, value: Any, parameter: str) -> Column | None:
    if value is None:
        return None
    condition = _as_column(flow, value, parameter)
    kind = _expression_type(flow, source, condition, parameter)
    if kind.typeName() != "boolean":
        raise CdcDefinitionError(flow, f"{parameter} must be a boolean condition, got {kind.simpleString()}")
    return condition


def _orderable(kind: DataType) -> bool:
    if isinstance(kind, MapType | VariantType):
        return False
    if isinstance(kind, StructType):
        return all(_orderable(f.dataType) for f in kind.fields)
    if isinstance(kind, ArrayType):
        return _orderable(kind.elementType)
    return True


def _ignore_null_columns(flow: str, spec: CdcFlowDef, value_columns: tuple[str, ...]) -> frozenset[str]:
    only, excluded = spec.ignore_null_updates_column_list, spec.ignore_null_updates_except_column_list
    if only is not None and excluded is not None:
        raise CdcDefinitionError(
            flow,
            "ignore_null_updates_column_list and ignore_null_updates_except_column_list cannot be set "
            "together",
        )
    names = {c.lower(): c for c in value_columns}
    if only is not None:
        return frozenset(_name_list(flow, only, names, "ignore_null_updates_column_list"))
    if excluded is not None:
        skip = set(_name_list(flow, excluded, names, "ignore_null_updates_except_column_list"))
        return frozenset(c for c in value_columns if c not in skip)
    return frozenset(value_columns) if spec.ignore_null_updates else frozenset()


def _tracked_columns(
    flow: str,
    scd_type: int,
    value_columns: tuple[str, ...],
    only: Sequence[Any] | None,
    excluded: Sequence[Any] | None,
) -> tuple[str, ...]:
    if only is not None and excluded is not None:
        raise CdcDefinitionError(
            flow, "track_history_column_list and track_history_except_column_list cannot be set together"
        )
    if scd_type == 1:
        if only is not None or excluded is not None:
            raise CdcDefinitionError(flow, "track_history_* lists are only valid with stored_as_scd_type=2")
        return ()
    names = {c.lower(): c for c in value_columns}
    if only is not None:
        chosen = set(_name_list(flow, only, names, "track_history_column_list"))
        return tuple(c for c in value_columns if c in chosen)
    skip = set(_name_list(flow, excluded or (), names, "track_history_except_column_list"))
    return tuple(c for c in value_columns if c not in skip)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
