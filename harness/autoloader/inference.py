"""Schema inference and the stored schema of a source.

Inference uses Spark's batch readers on a sample of the input files, as Auto Loader does (first
1000 files or 50 GB, oldest first; same Databricks confs). For JSON and CSV,
``cloudFiles.inferColumnTypes=false`` (the default) infers every leaf as STRING, nested structs
included (``primitivesAsString`` / no ``inferSchema``). The inferred schema is stored as version 0
in the schema location and reused by later starts; hints are applied on top at every start, so
changing them takes effect without re-inference.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql.types import DataType, StructType, _parse_datatype_string

from harness.autoloader.files import LocalFile, list_input_files
from harness.autoloader.options import CloudFilesOptions, parse_bytes
from harness.autoloader.schema import apply_hints, dedupe_case, parse_hints, without_fields
from harness.autoloader.store import SchemaStore, StoredSchema
from harness.errors import SchemaInferenceError

SAMPLE_FILES_CONF = "spark.databricks.cloudFiles.schemaInference.sampleSize.numFiles"
SAMPLE_BYTES_CONF = "spark.databricks.cloudFiles.schemaInference.sampleSize.numBytes"
INFERRED_FORMATS = ("json", "csv", "parquet", "orc")
CASE_SENSITIVE_CONF = "spark.sql.caseSensitive"


def parse_type(text: str) -> DataType:
    """Spark's own DDL type parser (needs the active session's JVM)."""
    return _parse_datatype_string(text)


def parse_schema(schema: StructType | str) -> StructType:
    if isinstance(schema, StructType):
        return schema
    parsed = _parse_datatype_string(schema)
    if not isinstance(parsed, StructType):
        raise TypeError(f"schema {schema!r} is a {parsed.simpleString()}, not a struct")
    return parsed


def corrupt_column_name(spark: SparkSession, opts: CloudFilesOptions) -> str:
    default = spark.conf.get("spark.sql.columnNameOfCorruptRecord", "_corrupt_record") or "_corrupt_record"
    return opts.reader_option("columnNameOfCorruptRecord") or default


def sample(spark: SparkSession, files: list[LocalFile]) -> list[LocalFile]:
    """The inference sample: oldest files first, up to Databricks' file-count and byte limits."""
    max_files = int(spark.conf.get(SAMPLE_FILES_CONF, "1000") or "1000")
    max_bytes = parse_bytes(SAMPLE_BYTES_CONF, spark.conf.get(SAMPLE_BYTES_CONF, "50g") or "50g")
    chosen, total = [], 0
    for file in sorted(files, key=lambda f: (f.mtime_ms, f.path)):
        if len(chosen) >= max_files or (chosen and total + file.size > max_bytes):
            break
        chosen.append(file)
        total += file.size
    return chosen


def infer(spark: SparkSession, opts: CloudFilesOptions, paths: list[str], corrupt_column: str) -> StructType:
    """Infer a schema from `paths` with the batch reader of the source format."""
    # Sampling is always PERMISSIVE: FAILFAST / DROPMALFORMED apply to the stream, not the sample.
    reader_opts: Mapping[str, str] = {
        k: v
        for k, v in opts.reader_options.items()
        if k.lower() not in ("pathglobfilter", "recursivefilelookup", "mode")
    }

    def read() -> StructType:
        reader = spark.read.options(**reader_opts)
        if opts.format == "json":
            return (
                reader.option("primitivesAsString", str(not opts.infer_column_types).lower())
                .json(paths)
                .schema
            )
        if opts.format == "csv":
            return reader.option("inferSchema", str(opts.infer_column_types).lower()).csv(paths).schema
        return reader.option("mergeSchema", "true").format(opts.format).load(paths).schema

    try:
        schema = read()
    except AnalysisException as exc:
        if "COLUMN_ALREADY_EXISTS" not in str(exc):
            raise
        # Keys differing only in case ("name" and "Name"): Spark refuses the relation unless it is
        # case-sensitive. Infer case-sensitively for this one eager call, then keep one spelling;
        # records with the other spelling land in the rescued data column, as on Databricks.
        previous = spark.conf.get(CASE_SENSITIVE_CONF)
        spark.conf.set(CASE_SENSITIVE_CONF, "true")
        try:
            schema = read()
        finally:
            spark.conf.set(CASE_SENSITIVE_CONF, previous or "false")
        schema = dedupe_case(schema)
    return without_fields(schema, [corrupt_column])


def stored_or_inferred(
    spark: SparkSession,
    store: SchemaStore,
    opts: CloudFilesOptions,
    input_path: str,
    recursive: bool,
    source_name: str,
    corrupt_column: str,
) -> StoredSchema:
    """The latest stored schema, inferring and storing version 0 on the first start."""
    latest = store.latest()
    if latest is not None:
        return latest
    files = list_input_files(input_path, recursive, opts.reader_option("pathGlobFilter"))
    if not files:
        raise SchemaInferenceError(source_name, input_path, "the directory has no files yet")
    inferred = infer(spark, opts, [f.path for f in sample(spark, files)], corrupt_column)
    if not inferred.fields:
        raise SchemaInferenceError(source_name, input_path, "no parseable records in the sampled files")
    return store.append(inferred, "inferred")


def with_hints(schema: StructType, opts: CloudFilesOptions) -> StructType:
    if not opts.schema_hints:
        return schema
    return apply_hints(schema, parse_hints(opts.schema_hints), parse_type)
