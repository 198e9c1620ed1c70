"""`cloud_files_stream`: Databricks' ``readStream.format("cloudFiles")`` on Spark's native file stream.

The native file source does the part Auto Loader is trusted for — each file admitted exactly once,
recorded in the query checkpoint, rate limits, AvailableNow fixing the file list when the update
starts, hidden files skipped, ``_metadata`` kept — and this module adds the rest: schema inference
and history, hints, evolution, rescued data, corrupt-record accounting, includeExistingFiles and
allowOverwrites. docs/autoloader.md describes the behaviour and every deviation.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from harness.autoloader import formats, json_records
from harness.autoloader.files import (
    find_rewrites,
    has_glob,
    has_partition_dirs,
    has_started,
    ingested_files,
    list_input_files,
    static_prefix,
)
from harness.autoloader.inference import (
    INFERRED_FORMATS,
    corrupt_column_name,
    infer,
    parse_schema,
    stored_or_inferred,
    with_hints,
)
from harness.autoloader.metrics import observe_metrics
from harness.autoloader.options import (
    DEFAULT_RESCUED_COLUMN,
    CloudFilesOptions,
    is_ignored_option,
    parse_cloud_files_options,
)
from harness.autoloader.schema import has_field, merge_new_fields, without_fields
from harness.autoloader.store import SchemaStore, local_path
from harness.errors import NewColumnsDetectedError, UnsupportedOptionError

log = logging.getLogger(__name__)

Warn = Callable[[str], None]
SOURCE_STATE = "source.json"
EXISTING_STATE = "existing_files.json"
OVERWRITES_STATE = "overwrites.json"

_FILE_SOURCE_KEYS = (
    "pathglobfilter",
    "recursivefilelookup",
    "ignorecorruptfiles",
    "ignoremissingfiles",
    "basepath",
)
#: Options consumed by the line reader, not by from_json.
_NOT_FOR_PARSER = (
    *_FILE_SOURCE_KEYS,
    "multiline",
    "encoding",
    "charset",
    "linesep",
    "mode",
    "columnnameofcorruptrecord",
    "readercasesensitive",
)


@dataclass(frozen=True)
class _Input:
    """Where the native stream reads and what it must skip."""

    load_path: str
    file_options: dict[str, str]
    recursive: bool
    root: str
    exclude: frozenset[str]
    shadow: str | None


def _decoded_path(uri: Column) -> Column:
    """``_metadata.file_path`` (a URI, %-encoded) as a local path, to compare with paths we listed."""
    stripped = F.regexp_replace(uri, "^file:(//)?", "")
    return F.try_url_decode(F.replace(stripped, F.lit("+"), F.lit("%2B")))


def _glob_escape(path: str) -> str:
    return re.sub(r"([\\{}\[\]*?,])", r"\\\1", path)


def _prepare_input(
    input_path: str, opts: CloudFilesOptions, store: SchemaStore, checkpoint_dir: str | None, warn: Warn
) -> _Input:
    root = static_prefix(input_path)
    file_options, note = opts.trigger_limits()
    if note:
        warn(note)
    for key, value in opts.reader_options.items():
        if key.lower() in _FILE_SOURCE_KEYS:
            file_options[key] = value
    explicit = opts.reader_option("recursiveFileLookup")
    if explicit is not None:
        recursive = explicit.strip().lower() == "true"
    else:
        recursive = not (opts.partition_columns or has_partition_dirs(input_path))
        if recursive:
            file_options["recursiveFileLookup"] = "true"
    glob_filter = opts.reader_option("pathGlobFilter")

    started = checkpoint_dir is not None and has_started(checkpoint_dir)
    exclude: frozenset[str] = frozenset()
    if not opts.include_existing_files:
        recorded = store.read_state(EXISTING_STATE)
        if recorded is None and not started:
            recorded = [f.path for f in list_input_files(input_path, recursive, glob_filter)]
            store.write_state(EXISTING_STATE, recorded)
        exclude = frozenset(recorded or ())

    shadow = None
    load_path = input_path
    if opts.allow_overwrites:
        if has_glob(input_path) or not recursive:
            raise UnsupportedOptionError(
                "cloudFiles.allowOverwrites",
                "true",
                "re-admitting rewritten files needs a plain directory path without Hive-style partition "
                "directories locally (see docs/autoloader.md)",
            )
        shadow = str(store.overwrites_dir)
        os.makedirs(shadow, exist_ok=True)
        common = os.path.commonpath([input_path, shadow])
        rel_in, rel_sh = os.path.relpath(input_path, common), os.path.relpath(shadow, common)
        load_path = f"{_glob_escape(common.rstrip('/'))}/{{{_glob_escape(rel_in)},{_glob_escape(rel_sh)}}}"
    if checkpoint_dir is not None and started:
        _handle_rewrites(input_path, root, recursive, glob_filter, opts, store, checkpoint_dir, shadow, warn)
    return _Input(load_path, file_options, recursive, root, exclude, shadow)


def _handle_rewrites(
    input_path: str,
    root: str,
    recursive: bool,
    glob_filter: str | None,
    opts: CloudFilesOptions,
    store: SchemaStore,
    checkpoint_dir: str,
    shadow: str | None,
    warn: Warn,
) -> None:
    """Report (allowOverwrites=false) or re-admit (true) files rewritten after they were ingested."""
    current = list_input_files(input_path, recursive, glob_filter)
    rewrites = find_rewrites(current, ingested_files(checkpoint_dir, include_uncommitted=True), root)
    if not rewrites:
        return
    if shadow is not None:
        for rw in rewrites:
            target = os.path.join(shadow, str(rw.file.mtime_ms), rw.relative_path)
            if os.path.exists(target):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.tmp")
            shutil.copyfile(rw.file.path, tmp)
            os.replace(tmp, target)
            warn(
                f"Auto Loader re-admits {rw.file.path}: rewritten after ingestion "
                f"(cloudFiles.allowOverwrites=true); its rows are read again from {target}"
            )
        return
    reported = {tuple(x) for x in store.read_state(OVERWRITES_STATE) or []}
    fresh = [rw for rw in rewrites if (rw.file.path, rw.file.mtime_ms) not in reported]
    if fresh:
        names = ", ".join(rw.file.path for rw in fresh[:10]) + (" ..." if len(fresh) > 10 else "")
        warn(
            f"Auto Loader ignores {len(fresh)} file(s) rewritten after ingestion (cloudFiles.allowOverwrites="
            f"false, as on Databricks, processes each path once): {names}"
        )
        store.write_state(
            OVERWRITES_STATE, sorted([*reported, *((rw.file.path, rw.file.mtime_ms) for rw in fresh)])
        )


def _file_path_column(source: _Input) -> Column:
    """The file a row came from; re-admitted copies report the path of the original file."""
    uri = F.col("_metadata.file_path")
    if source.shadow is None:
        return uri
    decoded = _decoded_path(uri)
    prefix = source.shadow.rstrip("/") + "/"
    original = F.concat(
        F.lit(f"file:{source.root.rstrip('/')}/"),
        F.regexp_extract(decoded, "^" + re.escape(prefix) + r"[0-9]+/(.*)$", 1),
    )
    return F.when(decoded.startswith(prefix), original).otherwise(uri)


def _native(
    spark: SparkSession,
    fmt: str,
    schema: StructType,
    options: Mapping[str, str],
    source: _Input,
    passthrough_filter: bool = True,
) -> DataFrame:
    raw = spark.readStream.format(fmt).schema(schema).options(**options).load(source.load_path)
    if source.exclude and passthrough_filter:
        raw = raw.filter(~_decoded_path(F.col("_metadata.file_path")).isin(sorted(source.exclude)))
    return raw


def _partition_columns(raw: DataFrame, known: StructType) -> list[str]:
    names = {f.name for f in known.fields}
    return [c for c in raw.columns if c not in names]


# --- schema resolution -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    spec: formats.FrameSpec
    guard_mode: str | None
    stored: StructType | None  # the stored (un-hinted) schema when inferred


def _resolve(
    spark: SparkSession,
    opts: CloudFilesOptions,
    user_schema: StructType | None,
    store: SchemaStore,
    input_path: str,
    recursive: bool,
    source_name: str,
    warn: Warn,
) -> _Schema:
    mode = opts.resolved_evolution_mode(user_schema is not None)
    corrupt_name = corrupt_column_name(spark, opts)
    if user_schema is not None:
        if mode == "addNewColumns":
            raise UnsupportedOptionError(
                "cloudFiles.schemaEvolutionMode",
                mode,
                "Databricks does not allow addNewColumns with a user-specified schema; infer the schema and "
                "pin types with cloudFiles.schemaHints instead",
            )
        if opts.schema_hints:
            warn(
                "cloudFiles.schemaHints is ignored because a schema is given with .schema(...) "
                "(as on Databricks)"
            )
        full, stored = user_schema, None
        rescue_on = opts.rescued_column is not None or mode == "rescue"
    else:
        stored = stored_or_inferred(
            spark, store, opts, input_path, recursive, source_name, corrupt_name
        ).schema
        full = with_hints(stored, opts)
        rescue_on = mode != "none" or opts.rescued_column is not None
    rescued = (opts.rescued_column or DEFAULT_RESCUED_COLUMN) if rescue_on else None
    corrupt = corrupt_name if has_field(full, corrupt_name) else None
    data = without_fields(full, [c for c in (corrupt, rescued) if c])
    output = tuple(f.name for f in full.fields if f.name != rescued)
    guard = mode if mode in ("addNewColumns", "failOnNewColumns") else None
    spec = formats.FrameSpec(data, output, corrupt, corrupt_name, rescued)
    return _Schema(spec, guard, stored)


# --- per-format frames -------------------------------------------------------------------------------


def _json_frame(
    spark: SparkSession,
    opts: CloudFilesOptions,
    resolved: _Schema,
    source: _Input,
    source_name: str,
    schema_location: str,
) -> tuple[DataFrame, str]:
    multiline = (opts.reader_option("multiLine") or "false").strip().lower() == "true"
    encoding = (opts.reader_option("encoding") or opts.reader_option("charset") or "UTF-8").strip()
    line_sep = opts.reader_option("lineSep")
    if encoding.upper().replace("-", "").replace("_", "") in ("UTF8", ""):
        text_opts = dict(source.file_options)
        if multiline:
            text_opts["wholetext"] = "true"
        elif line_sep:
            text_opts["lineSep"] = line_sep
        raw = _native(spark, "text", formats.TEXT_SCHEMA, text_opts, source)
        passthrough = _partition_columns(raw, formats.TEXT_SCHEMA)
        lines, line_col = raw, "value"
    else:
        raw = _native(spark, "binaryFile", formats.BINARY_FILE_SCHEMA, source.file_options, source)
        passthrough = _partition_columns(raw, formats.BINARY_FILE_SCHEMA)
        text = F.decode(F.col("content"), encoding)
        pieces = (
            F.array(text) if multiline else F.split(text, re.escape(line_sep) if line_sep else r"\r\n|\r|\n")
        )
        lines, line_col = raw.select(F.explode(pieces).alias("value"), *passthrough), "value"
    parser_opts = {k: v for k, v in opts.reader_options.items() if k.lower() not in _NOT_FOR_PARSER}
    records = json_records.records_from_lines(lines, line_col, passthrough, parser_opts)
    parse_mode = (opts.reader_option("mode") or "PERMISSIVE").strip().upper()
    plan = json_records.JsonPlan(
        data_schema=resolved.spec.data_schema,
        output_names=resolved.spec.output_names,
        corrupt_column=resolved.spec.corrupt_column,
        rescued_column=resolved.spec.rescued_column,
        guard_mode=resolved.guard_mode,
        parse_mode=parse_mode,
        source_name=source_name,
        schema_location=schema_location,
    )
    return json_records.parse_records(
        records, plan, passthrough, parser_opts, _file_path_column(source)
    ), parse_mode


def _csv_frame(spark: SparkSession, opts: CloudFilesOptions, resolved: _Schema, source: _Input) -> DataFrame:
    spec = resolved.spec
    reader_opts = {k: v for k, v in opts.reader_options.items() if k.lower() not in _FILE_SOURCE_KEYS}
    reader_opts["columnNameOfCorruptRecord"] = spec.corrupt_name
    read_schema = formats.csv_read_schema(spec)
    raw = _native(spark, "csv", read_schema, {**source.file_options, **reader_opts}, source)
    return formats.csv_frame(raw, spec, _file_path_column(source), _partition_columns(raw, read_schema))


def _columnar_frame(
    spark: SparkSession,
    opts: CloudFilesOptions,
    resolved: _Schema,
    source: _Input,
    input_path: str,
    store: SchemaStore,
    source_name: str,
) -> DataFrame:
    """Parquet / ORC: new columns are found from the file footers when the stream starts."""
    spec = resolved.spec
    read_schema = resolved.stored or spec.data_schema
    files = list_input_files(input_path, source.recursive, opts.reader_option("pathGlobFilter"))
    if files:
        current = infer(spark, opts, [f.path for f in files], spec.corrupt_name)
        merged, added = merge_new_fields(read_schema, current)
        known = {f.name.lower() for f in spec.data_schema.fields}
        new = [name for name in added if name.split(".")[0].lower() not in known]
        if new and resolved.guard_mode is not None:
            if resolved.guard_mode == "addNewColumns" and resolved.stored is not None:
                store.append(merge_new_fields(resolved.stored, current)[0], "addNewColumns", new)
            raise NewColumnsDetectedError(source_name, new, resolved.guard_mode)
        read_schema = merged
    raw = _native(spark, opts.format, read_schema, source.file_options, source)
    return formats.columnar_frame(raw, spec, _file_path_column(source), _partition_columns(raw, read_schema))


# --- the entry point ---------------------------------------------------------------------------------


def cloud_files_stream(
    spark: SparkSession,
    path: str,
    options: Mapping[str, str],
    schema: StructType | str | None,
    *,
    default_schema_location: str,
    source_name: str,
    checkpoint_dir: str | None = None,
    warn: Warn | None = None,
) -> DataFrame:
    """A streaming DataFrame behaving like ``spark.readStream.format("cloudFiles").options(...).load(path)``.

    `path` and path options are local paths or ``file:`` URIs. `default_schema_location` is used
    when ``cloudFiles.schemaLocation`` is not given (Databricks manages one per source in
    pipelines). `source_name` names the source in errors, warnings and the observed metrics
    (`metrics_name`). `checkpoint_dir` is the query checkpoint the stream will run with: it lets
    includeExistingFiles and allowOverwrites tell a first start from a restart and see what was
    ingested; without it they fall back to the schema location's own records. Warnings (ignored
    options, rewritten files) go to `warn`, else to this module's logger.

    Raises UnsupportedOptionError / InvalidOptionValueError for bad options, SchemaInferenceError
    when there is nothing to infer from, NewColumnsDetectedError for Parquet/ORC new columns found
    at start. JSON new columns fail the running micro-batch instead: see `translate_stream_failure`.
    """
    warn_fn: Warn = warn or log.warning
    opts = parse_cloud_files_options(options)
    for message in opts.warnings:
        warn_fn(message)
    input_path = local_path(path)
    schema_location = local_path(opts.schema_location or default_schema_location)
    store = SchemaStore.at(schema_location)
    user_schema = parse_schema(schema) if schema is not None else None
    source = _prepare_input(input_path, opts, store, checkpoint_dir, warn_fn)

    fmt = opts.format
    parse_mode = "PERMISSIVE"
    if fmt in INFERRED_FORMATS:
        resolved = _resolve(
            spark, opts, user_schema, store, input_path, source.recursive, source_name, warn_fn
        )
        if fmt == "json":
            df, parse_mode = _json_frame(spark, opts, resolved, source, source_name, schema_location)
        elif fmt == "csv":
            df = _csv_frame(spark, opts, resolved, source)
        else:
            df = _columnar_frame(spark, opts, resolved, source, input_path, store, source_name)
    else:
        for name, given in (
            ("cloudFiles.schemaHints", opts.schema_hints),
            ("rescuedDataColumn", opts.rescued_column),
            ("cloudFiles.schemaEvolutionMode", opts.evolution_mode),
        ):
            if given:
                warn_fn(f"{name} is ignored for cloudFiles.format={fmt}: the format has a fixed schema")
        native_schema = formats.TEXT_SCHEMA if fmt == "text" else formats.BINARY_FILE_SCHEMA
        native_opts = dict(source.file_options)
        native_opts.update(
            {k: v for k, v in opts.reader_options.items() if k.lower() not in _FILE_SOURCE_KEYS}
        )
        df = formats.plain_frame(_native(spark, fmt, native_schema, native_opts, source))

    store.write_state(
        SOURCE_STATE,
        {
            "source": source_name,
            "path": input_path,
            # Notification credentials (clientSecret, connectionString, ...) are ignored locally and
            # never written to disk.
            "options": {k: str(v) for k, v in options.items() if not is_ignored_option(k)},
            "recursive": source.recursive,
        },
    )
    return observe_metrics(df, source_name, drop_corrupt=parse_mode == "DROPMALFORMED")
