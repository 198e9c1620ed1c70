"""After a stream failed: recognise Auto Loader's new-columns failure and evolve the stored schema.

With ``addNewColumns`` Databricks stops the stream when records carry columns the schema lacks,
records the merged schema in the schema location, and the restarted stream (a pipeline retries the
flow) reads with it. Locally the JSON micro-batch raises ``NEW_COLUMNS_DETECTED`` from inside the
query (so nothing is committed), and the runner hands the exception to `translate_stream_failure`,
which infers the new columns from the input files (honouring ``inferColumnTypes``), appends them to
the schema as the next ``_schemas/N`` and returns the `NewColumnsDetectedError` to report.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from harness.autoloader.files import list_input_files
from harness.autoloader.inference import corrupt_column_name, infer, with_hints
from harness.autoloader.json_records import parse_context
from harness.autoloader.options import DEFAULT_RESCUED_COLUMN, parse_cloud_files_options
from harness.autoloader.schema import merge_new_fields, without_fields
from harness.autoloader.store import SchemaStore
from harness.errors import HarnessError, NewColumnsDetectedError


def _exception_text(exc: BaseException) -> str:
    """Messages of the exception and its causes (py4j / StreamingQueryException wrap the JVM error)."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(str(current))
        # pyspark's captured JVM exceptions keep the Java cause chain ("Caused by: ...", where the
        # evaluated raise_error message is) in _stackTrace, not in str().
        for attribute in ("desc", "_desc", "_stackTrace"):
            value = getattr(current, attribute, None)
            if isinstance(value, str):
                parts.append(value)
        cause = getattr(current, "_cause", None)
        current = (
            current.__cause__ or current.__context__ or (cause if isinstance(cause, BaseException) else None)
        )
    return "\n".join(parts)


def translate_stream_failure(exc: BaseException, spark: SparkSession | None = None) -> HarnessError | None:
    """`NewColumnsDetectedError` for an Auto Loader new-columns failure (recording the evolved schema
    first under addNewColumns), or None when `exc` is something else."""
    if isinstance(exc, NewColumnsDetectedError):
        return exc
    context = parse_context(_exception_text(exc))
    if context is None:
        return None
    source = str(context.get("source", "?"))
    mode = str(context.get("mode", "addNewColumns"))
    columns = [str(c) for c in context.get("columns") or []]  # type: ignore[attr-defined]
    if mode == "addNewColumns":
        session = spark or SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        added = record_new_columns(session, str(context["schemaLocation"]), columns)
        if added:
            columns = added
    return NewColumnsDetectedError(source, columns, mode)


def record_new_columns(spark: SparkSession, schema_location: str, reported: list[str]) -> list[str]:
    """Append the columns the input files have beyond the stored schema; returns their dotted names.

    Inference reads every file of the source (not only the failed micro-batch): new columns that
    are in later files are added now instead of failing the stream again on the next batch.
    Idempotent: a second call finds nothing new and writes nothing.
    """
    store = SchemaStore.at(schema_location)
    state = store.read_state("source.json")
    latest = store.latest()
    if state is None or latest is None:
        return []
    opts = parse_cloud_files_options(state["options"])
    rescued = opts.rescued_column or DEFAULT_RESCUED_COLUMN
    corrupt = corrupt_column_name(spark, opts)
    files = list_input_files(
        state["path"], bool(state.get("recursive", True)), opts.reader_option("pathGlobFilter")
    )
    observed = StructType([])
    if files:
        observed = without_fields(infer(spark, opts, [f.path for f in files], corrupt), [rescued])
    hinted = with_hints(latest.schema, opts)
    _, added = merge_new_fields(hinted, observed)
    merged, _ = merge_new_fields(latest.schema, observed)
    # A top-level column named in the failure that inference could not type (only NULL values, say)
    # becomes a string column.
    known = {f.name.lower() for f in merged.fields}
    for name in reported:
        if "." not in name and name.lower() not in known and name not in (rescued, corrupt):
            merged = StructType([*merged.fields, StructField(name, StringType(), True)])
            added.append(name)
            known.add(name.lower())
    if added:
        store.append(merged, "addNewColumns", added)
    return added
