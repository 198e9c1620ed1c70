"""JSON records from text lines, with Auto Loader's rescue, corrupt-record and new-column rules.

Every record is parsed in the JVM three ways: into the target schema (`from_json`, PERMISSIVE,
partial results), into ``map<string, variant>`` (the raw top-level values, types preserved) and
into its ordered key list (`json_object_keys`). Comparing them tells, per record:

- *corrupt*: not a JSON object at all (the map parse is NULL) → every column NULL, raw text in the
  corrupt-record column when the schema has one; counted either way;
- *rescued*: keys absent from the schema (case-sensitive, so case mismatches count) and values
  present in the raw record but NULL after conversion (type mismatches, also inside structs and
  arrays) → ``{"<key>": <raw value>, ..., "_file_path": "<file>"}``;
- *new columns*: keys absent from the schema case-insensitively (also nested struct fields) → the
  evolution guard raises ``NEW_COLUMNS_DETECTED`` inside the micro-batch, before the sink commits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, MapType, StringType, StructType

#: Marker that carries machine-readable context through the stream failure (see evolution.py).
ERROR_TAG = "NEW_COLUMNS_DETECTED"
CONTEXT_MARKER = "<<autoloader:"

REC, MAP, KEYS, PARSED, FILE = "__al_rec", "__al_map", "__al_keys", "__al_parsed", "__al_file"
RESCUE_KEYS = "__al_rescue_keys"
#: Helper flags every format handler leaves on its frame for the metrics (dropped before returning).
CORRUPT, RESCUED = "__al_corrupt", "__al_rescued"


@dataclass(frozen=True)
class JsonPlan:
    """What `parse_records` builds for one source."""

    data_schema: StructType  # the columns parsed from the records (no rescued / corrupt column)
    output_names: tuple[str, ...]  # final column order, may include the corrupt column
    corrupt_column: str | None  # in the output when the schema declares it
    rescued_column: str | None  # in the output when rescue is on
    guard_mode: str | None  # addNewColumns / failOnNewColumns: fail on new columns; None: never fail
    parse_mode: str = "PERMISSIVE"  # PERMISSIVE, DROPMALFORMED or FAILFAST (the JSON `mode` option)
    source_name: str = ""
    schema_location: str = ""


def records_from_lines(
    lines: DataFrame, line_col: str, passthrough: list[str], options: Mapping[str, str]
) -> DataFrame:
    """One row per JSON record: strip a BOM, skip blank lines, split top-level arrays into elements."""
    line = F.regexp_replace(F.col(line_col), "^\ufeff", "")
    df = lines.select(line.alias(REC), *passthrough).filter(~F.col(REC).rlike(r"^\s*$"))
    as_array = F.from_json(F.col(REC), "array<string>", dict(options))
    elements = F.when(
        F.ltrim(F.col(REC)).startswith("["), F.coalesce(as_array, F.array(F.col(REC)))
    ).otherwise(F.array(F.col(REC)))
    return df.select(F.explode(elements).alias(REC), *passthrough)


def _path(name: str) -> str:
    quote = '"' if "'" in name else "'"
    return f"$[{quote}{name}{quote}]"


def _member(v: Column, name: str) -> Column:
    return F.try_variant_get(v, _path(name), "variant")


def _has_struct(dt: DataType) -> bool:
    if isinstance(dt, StructType):
        return True
    if isinstance(dt, ArrayType):
        return _has_struct(dt.elementType)
    return False


def _not_in(names: list[str], key: Column) -> Column:
    if not names:
        return F.lit(True)
    return ~F.array_contains(F.array(*[F.lit(n) for n in names]), key)


def unknown_nested(v: Column, dt: DataType, case_insensitive: bool) -> Column:
    """True when the raw value `v` has object keys the struct type `dt` does not declare (recursively)."""
    if isinstance(dt, StructType):
        keys = F.map_keys(F.try_variant_get(v, "$", "map<string,variant>"))
        names = [f.name.lower() if case_insensitive else f.name for f in dt.fields]
        here = F.exists(keys, lambda k: _not_in(names, F.lower(k) if case_insensitive else k))
        cond = F.coalesce(here, F.lit(False))
        for f in dt.fields:
            if _has_struct(f.dataType):
                cond = cond | unknown_nested(_member(v, f.name), f.dataType, case_insensitive)
        return cond
    if isinstance(dt, ArrayType) and _has_struct(dt.elementType):
        items = F.try_variant_get(v, "$", "array<variant>")
        return F.coalesce(
            F.exists(items, lambda e: unknown_nested(e, dt.elementType, case_insensitive)), F.lit(False)
        )
    return F.lit(False)


def mismatch(parsed: Column, v: Column, dt: DataType) -> Column:
    """True when the raw value is present but (part of it) did not convert to `dt`."""
    if isinstance(dt, StringType):
        return F.lit(False)  # any JSON value converts to a string (objects as their JSON text)
    present = v.isNotNull() & ~F.coalesce(F.is_variant_null(v), F.lit(True))
    cond = present & parsed.isNull()
    if isinstance(dt, StructType):
        for f in dt.fields:
            if not isinstance(f.dataType, StringType):
                cond = cond | (
                    parsed.isNotNull() & mismatch(parsed.getField(f.name), _member(v, f.name), f.dataType)
                )
    elif isinstance(dt, ArrayType) and not isinstance(dt.elementType, StringType):
        items = F.try_variant_get(v, "$", "array<variant>")
        flags = F.zip_with(parsed, items, lambda pe, ve: mismatch(pe, ve, dt.elementType))
        cond = cond | F.coalesce(F.exists(flags, lambda x: x), F.lit(False))
    elif isinstance(dt, MapType):
        pass  # maps accept any key; value conversion failures are not tracked below the map
    return F.coalesce(cond, F.lit(False))


def _guard(plan: JsonPlan) -> Column:
    """The evolution guard: TRUE, or raise_error naming the new columns (evaluated per record)."""
    names = [f.name.lower() for f in plan.data_schema.fields]
    names += [c.lower() for c in (plan.rescued_column, plan.corrupt_column) if c]
    new_top = F.filter(F.array_distinct(F.col(KEYS)), lambda k: _not_in(names, F.lower(k)))
    nested = [
        F.when(unknown_nested(F.col(MAP)[f.name], f.dataType, True), F.lit(f"{f.name}.*"))
        for f in plan.data_schema.fields
        if _has_struct(f.dataType)
    ]
    found = F.concat(new_top, F.filter(F.array(*nested), lambda x: x.isNotNull())) if nested else new_top
    context = F.to_json(
        F.struct(
            F.lit(plan.schema_location).alias("schemaLocation"),
            F.lit(plan.source_name).alias("source"),
            F.lit(plan.guard_mode).alias("mode"),
            found.alias("columns"),
            F.col(FILE).alias("file"),
        )
    )
    message = F.concat(
        F.lit(
            f"[UNKNOWN_FIELD_EXCEPTION.{ERROR_TAG}] Auto Loader source {plan.source_name} found new columns ["
        ),
        F.array_join(found, ", "),
        F.lit("] in "),
        F.col(FILE),
        F.lit(f" (schemaEvolutionMode={plan.guard_mode}) {CONTEXT_MARKER}"),
        context,
        F.lit(">>"),
    )
    return F.when(~F.col(CORRUPT) & (F.size(found) > 0), F.raise_error(message).cast("boolean")).otherwise(
        F.lit(True)
    )


def parse_records(
    records: DataFrame, plan: JsonPlan, passthrough: list[str], options: Mapping[str, str], file_path: Column
) -> DataFrame:
    """Typed columns + rescued column + helper flags (`CORRUPT`, `RESCUED`) from `records_from_lines`."""
    opts = dict(options)
    rec = F.col(REC)
    staged = records.select(
        rec,
        F.from_json(rec, "map<string,variant>", opts).alias(MAP),
        F.json_object_keys(rec).alias(KEYS),
        F.from_json(rec, plan.data_schema, opts).alias(PARSED),
        file_path.alias(FILE),
        *passthrough,
    ).withColumn(CORRUPT, F.col(MAP).isNull())

    names = [f.name for f in plan.data_schema.fields]
    checks = [
        F.when(
            mismatch(F.col(PARSED).getField(f.name), F.col(MAP)[f.name], f.dataType)
            | unknown_nested(F.col(MAP)[f.name], f.dataType, False),
            F.lit(f.name),
        )
        for f in plan.data_schema.fields
        if _has_struct(f.dataType) or not isinstance(f.dataType, StringType)
    ]
    unfit = F.filter(F.array(*checks), lambda x: x.isNotNull()) if checks else F.array().cast("array<string>")
    rescue_keys = F.filter(
        F.array_distinct(F.col(KEYS)),
        lambda k: (_not_in(names, k) | F.array_contains(unfit, k)) & (k != F.lit("_file_path")),
    )
    staged = staged.withColumn(RESCUE_KEYS, F.when(~F.col(CORRUPT), rescue_keys))
    if plan.guard_mode is not None:
        staged = staged.filter(_guard(plan))
    if plan.parse_mode == "FAILFAST":
        staged = staged.filter(
            F.when(
                F.col(CORRUPT),
                F.raise_error(
                    F.concat(
                        F.lit("Malformed JSON record in "), F.col(FILE), F.lit(" (mode FAILFAST): "), rec
                    )
                ).cast("boolean"),
            ).otherwise(F.lit(True))
        )

    columns: list[Column] = []
    for name in plan.output_names:
        if name == plan.corrupt_column:
            columns.append(F.when(F.col(CORRUPT), rec).cast("string").alias(name))
        else:
            columns.append(F.when(~F.col(CORRUPT), F.col(PARSED).getField(name)).alias(name))
    columns.extend(F.col(c) for c in passthrough)
    keys = F.col(RESCUE_KEYS)
    rescued_json = F.to_json(
        F.map_concat(
            F.map_from_arrays(keys, F.transform(keys, lambda k: F.col(MAP)[k])),
            F.create_map(F.lit("_file_path"), F.col(FILE).cast("variant")),
        )
    )
    rescued = F.when(F.size(keys) > 0, rescued_json)
    if plan.rescued_column:
        columns.append(rescued.alias(plan.rescued_column))
    columns += [F.col(CORRUPT), rescued.isNotNull().alias(RESCUED)]
    return staged.select(*columns)


def parse_context(message: str) -> dict[str, object] | None:
    """The JSON context embedded in a NEW_COLUMNS_DETECTED failure message, or None.

    The marker also appears unevaluated in the logical plan printed with a stream failure, so
    every occurrence is tried until one holds valid JSON.
    """
    if ERROR_TAG not in message:
        return None
    start = message.find(CONTEXT_MARKER)
    while start >= 0:
        begin = start + len(CONTEXT_MARKER)
        end = message.find("}>>", begin)
        if end < 0:
            return None
        try:
            value = json.loads(message[begin : end + 1])
        except ValueError:
            value = None
        if isinstance(value, dict) and "schemaLocation" in value:
            return value
        start = message.find(CONTEXT_MARKER, begin)
    return None
