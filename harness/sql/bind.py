"""Evaluate a SQL query template inside a pipeline: bind its reads, then hand the text to Spark SQL.

Each placeholder of a `QueryTemplate` becomes a fresh temporary view of what the active resolver
returns for that read (a dataset's placeholder during analysis, its Delta table or view query
during execution, an Auto Loader stream for ``STREAM read_files`` / ``cloud_files``). So a SQL
flow records its dependencies, reads views with their expectations and ingests files exactly as
a Python flow does. The text then goes to Spark SQL unchanged apart from those names.
"""

from __future__ import annotations

from typing import Any

from harness.errors import DefinitionError, OutsidePipelineError, SqlSyntaxError
from harness.sql.rewrite import METADATA, PLACEHOLDER, DatasetRead, FileRead, QueryTemplate


def _session(resolver: Any) -> Any:
    """The resolver's session (flows run in threads, where Spark's "active session" may be unset)."""
    spark = getattr(resolver, "spark", None)
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
    if spark is None:  # pragma: no cover - the harness always runs with a session
        raise OutsidePipelineError("a SQL dataset query")
    return spark


def _batch_files(spark: Any, resolver: Any, source: FileRead) -> Any:
    """Batch ``read_files``: Spark's reader with the same format and reader options (types inferred)."""
    options = {k: v for k, v in source.options.items() if not k.lower().startswith("cloudfiles.")}
    fmt = next(v for k, v in source.options.items() if k.lower() == "cloudfiles.format")
    infer = next((v for k, v in source.options.items() if k.lower() == "cloudfiles.infercolumntypes"), "true")
    reader = spark.read.format(fmt).options(**options)
    if source.schema is not None:
        reader = reader.schema(source.schema)
    elif fmt == "csv" and str(infer).lower() == "true":
        reader = reader.option("inferSchema", "true")
    elif fmt == "json" and str(infer).lower() != "true":
        reader = reader.option("primitivesAsString", "true")
    from harness.runtime.interception import original_method

    return original_method(type(reader), "load")(reader, resolver.map_path(source.path))


def evaluate(template: QueryTemplate, dataset: str) -> Any:
    """The DataFrame of one SQL body, its reads bound through the active resolver."""
    from pyspark.sql import SparkSession

    from harness.graph.builder import sql_view_name
    from harness.runtime.context import current_resolver
    from harness.runtime.interception import original_method

    resolver = current_resolver()
    if resolver is None:
        raise OutsidePipelineError(f"the SQL query of {dataset}")
    spark = _session(resolver)
    text = template.text
    for index, source in enumerate(template.sources):
        if isinstance(source, DatasetRead):
            df = resolver.read(source.name, streaming=source.streaming)
        elif source.streaming:
            df = resolver.cloud_files(source.path, dict(source.options), source.schema)
        else:
            df = _batch_files(spark, resolver, source)
        if isinstance(source, FileRead) and template.uses_metadata:
            from pyspark.sql import functions as F

            df = df.withColumn(METADATA, F.col("_metadata"))
        view = sql_view_name(f"src{index}")
        df.createOrReplaceTempView(view)
        text = text.replace(PLACEHOLDER.format(index=index), f"`{view}`")
    try:
        result = original_method(SparkSession, "sql")(spark, text)
    except Exception as exc:
        raise _located(exc, template, dataset) from exc
    return result.drop(METADATA) if METADATA in result.columns else result


def _located(exc: Exception, template: QueryTemplate, dataset: str) -> Exception:
    """Spark's parse / analysis errors, pointed at the file and line of the SQL source."""
    from pyspark.errors import AnalysisException, ParseException

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = template.line
    context = getattr(exc, "getQueryContext", None)
    try:
        contexts = context() if context else []
        if contexts:
            fragment = contexts[0].fragment()
            offset = template.text.find(fragment) if fragment else -1
            if offset >= 0:
                line += template.text[:offset].count("\n")
    except Exception:  # pragma: no cover - query context is best effort
        pass
    if isinstance(exc, ParseException):
        return SqlSyntaxError(template.path, line, template.text, message)
    if isinstance(exc, AnalysisException):
        return DefinitionError(dataset, f"{template.path}:{line}", message)
    return exc
