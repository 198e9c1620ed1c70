"""Pure schema operations of Auto Loader: schema hints, evolution merges, name lookups.

Nothing here touches Spark's JVM: types are `pyspark.sql.types` objects and the one step that
needs Spark's SQL parser (turning a hint's type text into a DataType) is passed in as a function,
so the rules are unit-tested without a session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyspark.sql.types import ArrayType, DataType, MapType, StructField, StructType

from harness.errors import InvalidOptionValueError

HINTS_OPTION = "cloudFiles.schemaHints"


@dataclass(frozen=True)
class SchemaHint:
    """One ``name TYPE`` entry of cloudFiles.schemaHints; `path` is the dotted name split into parts."""

    path: tuple[str, ...]
    type_text: str


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside <>, (), [] and backquotes (DDL types nest: ``map<string,array<int>>``)."""
    parts, depth, quoted, current = [], 0, False, []
    for char in text:
        if char == "`":
            quoted = not quoted
        elif not quoted and char in "<([":
            depth += 1
        elif not quoted and char in ">)]":
            depth -= 1
        if char == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _split_name(text: str) -> tuple[tuple[str, ...], str]:
    """Split ``a.`b.c`.d  rest`` into (('a', 'b.c', 'd'), 'rest')."""
    parts: list[str] = []
    i, current = 0, []
    while i < len(text):
        char = text[i]
        if char == "`":
            end = text.index("`", i + 1) if "`" in text[i + 1 :] else -1
            if end < 0:
                raise ValueError("unbalanced backquote")
            current.append(text[i + 1 : end])
            i = end + 1
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        elif char.isspace():
            break
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    if any(not p for p in parts):
        raise ValueError("empty name part")
    return tuple(parts), text[i:].strip()


def parse_hints(hints: str) -> list[SchemaHint]:
    """Parse a schemaHints DDL fragment (``"id BIGINT, address.zip STRING, items.element.qty INT"``)."""
    result = []
    for entry in _split_top_level(hints):
        try:
            path, type_text = _split_name(entry)
        except ValueError as exc:
            raise InvalidOptionValueError(HINTS_OPTION, entry, f"`name TYPE` ({exc})") from exc
        # Accept and drop column constraints/comments that DDL allows but hints cannot express.
        upper = type_text.upper()
        for suffix in (" NOT NULL",):
            if upper.endswith(suffix):
                type_text = type_text[: -len(suffix)].strip()
        if " COMMENT " in f" {upper} ":
            type_text = type_text[: upper.index("COMMENT")].strip()
        if not type_text:
            raise InvalidOptionValueError(HINTS_OPTION, entry, "`name TYPE`, e.g. `amount DECIMAL(18,2)`")
        result.append(SchemaHint(path, type_text))
    return result


def _find(struct: StructType, name: str) -> int | None:
    """Index of a field by exact name, else by case-insensitive name (Spark resolves columns that way)."""
    for index, f in enumerate(struct.fields):
        if f.name == name:
            return index
    for index, f in enumerate(struct.fields):
        if f.name.lower() == name.lower():
            return index
    return None


def _nest(path: tuple[str, ...], leaf: DataType) -> DataType:
    for name in reversed(path):
        leaf = StructType([StructField(name, leaf, True)])
    return leaf


def _apply_one(dt: DataType, path: tuple[str, ...], leaf: DataType, hint: str) -> DataType:
    if not path:
        return leaf
    head, rest = path[0], path[1:]
    if isinstance(dt, StructType):
        fields = list(dt.fields)
        index = _find(dt, head)
        if index is None:
            fields.append(StructField(head, _nest(rest, leaf), True))
        else:
            old = fields[index]
            fields[index] = StructField(
                old.name, _apply_one(old.dataType, rest, leaf, hint), True, old.metadata
            )
        return StructType(fields)
    if isinstance(dt, ArrayType) and head.lower() == "element":
        return ArrayType(_apply_one(dt.elementType, rest, leaf, hint), True)
    if isinstance(dt, MapType) and head.lower() in ("key", "value"):
        if head.lower() == "key":
            return MapType(_apply_one(dt.keyType, rest, leaf, hint), dt.valueType, True)
        return MapType(dt.keyType, _apply_one(dt.valueType, rest, leaf, hint), True)
    raise InvalidOptionValueError(
        HINTS_OPTION,
        hint,
        f"a path into the schema; {'.'.join(path)!r} does not exist under a {dt.simpleString()}",
    )


def apply_hints(
    schema: StructType, hints: Iterable[SchemaHint], parse_type: Callable[[str], DataType]
) -> StructType:
    """Pin hinted columns to their type; add hinted columns the data does not have (Databricks does both)."""
    result: DataType = schema
    for hint in hints:
        text = f"{'.'.join(hint.path)} {hint.type_text}"
        try:
            leaf = parse_type(hint.type_text)
        except Exception as exc:  # Spark's parser raises its own exception types
            raise InvalidOptionValueError(HINTS_OPTION, text, f"a Spark SQL type ({exc})") from exc
        result = _apply_one(result, hint.path, leaf, text)
    assert isinstance(result, StructType)
    return result


def merge_new_fields(existing: StructType, observed: StructType) -> tuple[StructType, list[str]]:
    """Add fields of `observed` missing from `existing` (case-insensitively), keeping existing types.

    Mirrors addNewColumns: new columns are appended, nested struct fields are added inside their
    struct, and a column that exists keeps its type even when the new data disagrees (those
    values go to the rescued data column). Returns the merged schema and the dotted new names.
    """
    added: list[str] = []

    def merge(old: DataType, new: DataType, prefix: str) -> DataType:
        if isinstance(old, StructType) and isinstance(new, StructType):
            fields = list(old.fields)
            for f in new.fields:
                index = _find(StructType(fields), f.name)
                if index is None:
                    fields.append(StructField(f.name, f.dataType, True))
                    added.append(prefix + f.name)
                else:
                    o = fields[index]
                    fields[index] = StructField(
                        o.name, merge(o.dataType, f.dataType, f"{prefix}{o.name}."), o.nullable, o.metadata
                    )
            return StructType(fields)
        if isinstance(old, ArrayType) and isinstance(new, ArrayType):
            return ArrayType(merge(old.elementType, new.elementType, f"{prefix}element."), old.containsNull)
        return old

    merged = merge(existing, observed, "")
    assert isinstance(merged, StructType)
    return merged, added


def dedupe_case(dt: DataType) -> DataType:
    """Keep one of the struct fields whose names differ only in case: the lower-case one, else the first."""
    if isinstance(dt, StructType):
        chosen: dict[str, StructField] = {}
        for f in dt.fields:
            key = f.name.lower()
            if key not in chosen or (f.name == key and chosen[key].name != key):
                chosen[key] = f
        kept = {id(f) for f in chosen.values()}
        return StructType(
            [
                StructField(f.name, dedupe_case(f.dataType), f.nullable, f.metadata)
                for f in dt.fields
                if id(f) in kept
            ]
        )
    if isinstance(dt, ArrayType):
        return ArrayType(dedupe_case(dt.elementType), dt.containsNull)
    if isinstance(dt, MapType):
        return MapType(dt.keyType, dedupe_case(dt.valueType), dt.valueContainsNull)
    return dt


def without_fields(schema: StructType, names: Iterable[str]) -> StructType:
    """The schema minus top-level fields with these exact names."""
    drop = set(names)
    return StructType([f for f in schema.fields if f.name not in drop])


def has_field(schema: StructType, name: str) -> bool:
    return any(f.name == name for f in schema.fields)
