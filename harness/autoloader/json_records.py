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
NESTED, UNFIT, RESCUE_KEYS, RESCUED_JSON = (
    "__al_nested",
    "__al_unfit",
    "__al_rescue_keys",
    "__al_rescued_json",
)
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


def _empty() -> Column:
    return F.array().cast("array<string>")


def nested_unknown(v: Column, dt: DataType, prefix: str) -> Column:
    """Dotted paths (``address.country``, ``items.element.gift``) of object keys inside the raw value
    `v` that the struct type `dt` does not declare, matched case-sensitively. One pass per record
    serves both the rescue (any path under a column) and the new-column guard (paths that are new
    even case-insensitively)."""
    if isinstance(dt, StructType):
        keys = F.map_keys(F.try_variant_get(v, "$", "map<string,variant>"))
        names = [f.name for f in dt.fields]
        here = F.transform(F.filter(keys, lambda k: _not_in(names, k)), lambda k: F.concat(F.lit(prefix), k))
        parts = [F.coalesce(here, _empty())]
        parts += [
            nested_unknown(_member(v, f.name), f.dataType, f"{prefix}{f.name}.")
            for f in dt.fields
            if _has_struct(f.dataType)
        ]
        return F.concat(*parts) if len(parts) > 1 else parts[0]
    if isinstance(dt, ArrayType) and _has_struct(dt.elementType):
        items = F.try_variant_get(v, "$", "array<variant>")
        per_item = F.transform(items, lambda e: nested_unknown(e, dt.elementType, f"{prefix}element."))
        return F.coalesce(F.array_distinct(F.flatten(per_item)), _empty())
    return _empty()


def _under(paths: Column, column: str) -> Column:
    """True when one of the dotted `paths` lies under top-level `column`."""
    prefix = f"{column}."
    return F.exists(paths, lambda p: p.startswith(prefix))


def known_paths(dt: DataType, prefix: str = "") -> list[str]:
    """Lower-cased dotted paths of every struct field under `dt` (array elements as ``element``)."""
    paths: list[str] = []
    if isinstance(dt, StructType):
        for f in dt.fields:
            path = f"{prefix}{f.name}".lower()
            paths.append(path)
            paths += known_paths(f.dataType, f"{path}.")
    elif isinstance(dt, ArrayType):
        paths += known_paths(dt.elementType, f"{prefix}element.")
    return paths


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


def _new_columns(plan: JsonPlan) -> Column:
    """Names of columns a record has beyond the schema, case-insensitively (nested ones dotted)."""
    names = [f.name.lower() for f in plan.data_schema.fields]
    names += [c.lower() for c in (plan.rescued_column, plan.corrupt_column) if c]
    new_top = F.filter(F.array_distinct(F.col(KEYS)), lambda k: _not_in(names, F.lower(k)))
    if not any(_has_struct(f.dataType) for f in plan.data_schema.fields):
        return new_top
    known = known_paths(plan.data_schema)
    return F.array_distinct(F.concat(new_top, F.filter(F.col(NESTED), lambda p: _not_in(known, F.lower(p)))))


def _raise_new_columns(plan: JsonPlan, found: Column) -> Column:
    """raise_error with a human message and the JSON context `translate_stream_failure` reads back."""
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
    return F.raise_error(message).cast("boolean")


def _corrupt_flag(plan: JsonPlan) -> Column:
    """The corrupt flag, which also carries the failures that must stop the micro-batch.

    The new-columns guard and FAILFAST live inside this projection rather than in a Filter: a Filter
    would be pushed below the parsing projection and re-parse every record once per reference,
    and an unused projected column would be pruned. The flag is always read (by the observed
    metrics), so the checks always run, once per record.
    """
    malformed: Column = F.lit(True)
    if plan.parse_mode == "FAILFAST":
        malformed = F.raise_error(
            F.concat(F.lit("Malformed JSON record in "), F.col(FILE), F.lit(" (mode FAILFAST): "), F.col(REC))
        ).cast("boolean")
    flag = F.when(F.col(MAP).isNull(), malformed)
    if plan.guard_mode is not None:
        found = _new_columns(plan)
        flag = flag.when(F.size(found) > 0, _raise_new_columns(plan, found))
    return flag.otherwise(F.lit(False))


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
    )
    nested = [
        nested_unknown(F.col(MAP)[f.name], f.dataType, f"{f.name}.")
        for f in plan.data_schema.fields
        if _has_struct(f.dataType)
    ]
    if nested:
        staged = staged.withColumn(NESTED, F.concat(*nested) if len(nested) > 1 else nested[0])
    staged = staged.withColumn(CORRUPT, _corrupt_flag(plan))

    names = [f.name for f in plan.data_schema.fields]
    checks = [
        F.when(
            mismatch(F.col(PARSED).getField(f.name), F.col(MAP)[f.name], f.dataType)
            | (_under(F.col(NESTED), f.name) if _has_struct(f.dataType) else F.lit(False)),
            F.lit(f.name),
        )
        for f in plan.data_schema.fields
        if _has_struct(f.dataType) or not isinstance(f.dataType, StringType)
    ]
    unfit = F.filter(F.array(*checks), lambda x: x.isNotNull()) if checks else F.array().cast("array<string>")
    # Unknown keys (record order) then unfit columns. UNFIT must not be referenced inside a lambda:
    # the optimizer inlines single-use projections, and inside a lambda the checks would run once
    # per key of every record.
    unknown = F.filter(F.array_distinct(F.col(KEYS)), lambda k: _not_in([*names, "_file_path"], k))
    rescue_keys = F.concat(unknown, F.col(UNFIT))
    keys = F.col(RESCUE_KEYS)
    rescued_json = F.to_json(
        F.map_concat(
            F.map_from_arrays(keys, F.transform(keys, lambda k: F.col(MAP)[k])),
            F.create_map(F.lit("_file_path"), F.col(FILE).cast("variant")),
        )
    )
    staged = staged.withColumn(UNFIT, F.when(~F.col(CORRUPT), unfit))
    staged = staged.withColumn(RESCUE_KEYS, F.when(~F.col(CORRUPT), rescue_keys)).withColumn(
        RESCUED_JSON, F.when(F.size(keys) > 0, rescued_json)
    )

    columns: list[Column] = []
    for name in plan.output_names:
        if name == plan.corrupt_column:
            columns.append(F.when(F.col(CORRUPT), rec).cast("string").alias(name))
        else:
            columns.append(F.when(~F.col(CORRUPT), F.col(PARSED).getField(name)).alias(name))
    columns.extend(F.col(c) for c in passthrough)
    if plan.rescued_column:
        columns.append(F.col(RESCUED_JSON).alias(plan.rescued_column))
    columns += [F.col(CORRUPT), F.col(RESCUED_JSON).isNotNull().alias(RESCUED)]
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
