"""SQL plumbing for the SCD appliers: quoting, MERGE through a temp view, creating and widening tables.

MERGE goes through SQL (not DeltaTable.merge) because the SQL command returns Delta's row counts
(inserted / updated / deleted) as a one-row result: exact metrics without reading the table history.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from harness.cdc.model import MergeCounts
from harness.runtime.tables import delta_table_exists


def quote(name: str) -> str:
    """A column name as a SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def quote_table(table_name: str) -> str:
    """`db.table` -> `db`.`table` (parts already backquoted are kept as they are)."""
    if "`" in table_name:
        return table_name
    return ".".join(quote(part) for part in table_name.split("."))


def path_table(path: str) -> str:
    """A path-based Delta table reference for SQL."""
    return "delta." + quote(path)


def null_safe_on(columns: Iterable[str], left: str = "t", right: str = "s") -> str:
    """Join condition matching NULL keys too, as Databricks treats a NULL key as a value."""
    parts = [f"{left}.{quote(c)} <=> {right}.{quote(c)}" for c in columns]
    return " AND ".join(parts) if parts else "TRUE"


def merge(spark: SparkSession, into: str, source: DataFrame, clauses: str, on: str) -> MergeCounts:
    """Run `MERGE INTO <into> t USING <source> s ON <on> <clauses>` and return Delta's row counts.

    The source should be materialised (localCheckpoint) when it reads the table it merges into.
    """
    view = f"__cdc_src_{uuid.uuid4().hex}"
    # A temp view lives in the session of the DataFrame that registers it. Inside foreachBatch the
    # micro-batch belongs to the stream's cloned session, not `spark`: query the view where it is.
    session = source.sparkSession
    source.createOrReplaceTempView(view)
    try:
        result = session.sql(f"MERGE INTO {into} t USING {view} s ON {on} {clauses}").collect()
    finally:
        session.catalog.dropTempView(view)
    if not result:
        return MergeCounts()
    row = result[0].asDict()
    return MergeCounts(
        inserted=int(row.get("num_inserted_rows") or 0),
        updated=int(row.get("num_updated_rows") or 0),
        deleted=int(row.get("num_deleted_rows") or 0),
    )


#: tables this process already created or widened to a schema: (table or path) -> schema JSON.
#: Every micro-batch calls the ensure_* functions; a metastore lookup and a Delta snapshot per call
#: cost more than the batch's data on small batches. A table whose Delta log is gone (a reset
#: removed it) or a wider wanted schema goes through the full check again.
_ensured: dict[str, str] = {}
_ensured_lock = threading.Lock()


def _already_ensured(key: str, path: str, schema: StructType) -> bool:
    with _ensured_lock:
        known = _ensured.get(key)
    return known == schema.json() and delta_table_exists(path)


def _remember(key: str, schema: StructType) -> None:
    with _ensured_lock:
        _ensured[key] = schema.json()


def ensure_table(spark: SparkSession, table_name: str, path: str, schema: StructType) -> None:
    """Create the target Delta table at `path` if needed, and add columns it lacks (source evolution).

    Columns the table has beyond `schema` are kept (a user-declared schema may be wider).
    """
    key = f"{table_name}@{path}"
    if _already_ensured(key, path, schema):
        return
    _ensure_table(spark, table_name, path, schema)
    _remember(key, schema)


def _ensure_table(spark: SparkSession, table_name: str, path: str, schema: StructType) -> None:
    if not spark.catalog.tableExists(table_name):
        (
            spark.createDataFrame([], schema)
            .write.format("delta")
            .mode("append")
            .option("path", path)
            .saveAsTable(table_name)
        )
    _add_missing_columns(spark, quote_table(table_name), spark.table(table_name).schema, schema)


def ensure_path_table(spark: SparkSession, path: str, schema: StructType) -> None:
    """Create (or widen) one of the engine's own state tables, addressed by path only."""
    if _already_ensured(path, path, schema):
        return
    if not DeltaTable.isDeltaTable(spark, path):
        spark.createDataFrame([], schema).write.format("delta").mode("append").save(path)
    else:
        _add_missing_columns(spark, path_table(path), spark.read.format("delta").load(path).schema, schema)
    _remember(path, schema)


def _add_missing_columns(spark: SparkSession, ref: str, current: StructType, wanted: StructType) -> None:
    have = {f.name.lower() for f in current.fields}
    missing = [f for f in wanted.fields if f.name.lower() not in have]
    if missing:
        ddl = ", ".join(f"{quote(f.name)} {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE {ref} ADD COLUMNS ({ddl})")
