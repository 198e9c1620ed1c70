"""Pipeline tables on local Delta: where they live, how they are created, replaced and published.

Every table is a Delta table at an explicit location under the pipeline's state directory
(``<state>/pipelines/<name>/tables/<database>/<table>``, or the dataset's ``path=``), registered
in the local metastore as ``<database>.<table>`` unless it is private. Materialized views are
replaced in one Delta commit (readers see the old or the new version, never a half-written one);
streaming tables are appended per micro-batch with Delta's idempotent-write options.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DefinitionError
from harness.runtime.crashpoints import crash_point
from harness.runtime.delta_txn import committed_since, latest_version
from harness.runtime.profile import timed
from harness.settings.naming import quote_identifier
from harness.shim.records import DatasetDef

log = logging.getLogger(__name__)


def delta_table_exists(path: str | Path) -> bool:
    log_dir = Path(str(path).removeprefix("file:")) / "_delta_log"
    return log_dir.is_dir() and any(p.suffix == ".json" for p in log_dir.iterdir())


@dataclass(frozen=True)
class TableLocation:
    """Where one dataset's data lives and under which name it is published."""

    key: str  # lower-case bare dataset name, the graph's key
    database: str
    table: str
    path: str
    published: bool

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.database, 'database')}.{quote_identifier(self.table, 'table')}"


def conform_to_declared_schema(df: Any, dataset: DatasetDef) -> Any:
    """The query with the declared `schema=` applied: its column order, types and metadata (comments).

    The declared schema must name the query's columns (as Databricks requires); a mismatch is a
    definition error naming the columns, not a silently different table.
    """
    declared = dataset.schema
    if declared is None:
        return df
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    if isinstance(declared, str):
        declared = StructType.fromDDL(declared)
    query = {c.lower() for c in df.columns}
    named = {f.name.lower() for f in declared.fields}
    if query != named:
        raise DefinitionError(
            dataset.name,
            str(dataset.location),
            f"the declared schema does not match the query: columns only declared {sorted(named - query)}, "
            f"columns only in the query {sorted(query - named)}",
        )
    return df.select(
        *[F.col(f"`{f.name}`").cast(f.dataType).alias(f.name, metadata=f.metadata) for f in declared.fields]
    )


class TableStore:
    """Creates, replaces, truncates and registers the Delta tables of one pipeline."""

    def __init__(self, spark: Any, tables_root: Path) -> None:
        self.spark = spark
        self.tables_root = tables_root
        self._verified: set[str] = set()

    def location(
        self, key: str, table: str, database: str, dataset: DatasetDef, mapped_path: str | None
    ) -> TableLocation:
        path = mapped_path or str(self.tables_root / database / table)
        return TableLocation(key, database, table, path, published=not dataset.private)

    def ensure_database(self, database: str) -> None:
        if database not in self._verified:
            with timed("metastore"):
                self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database, 'database')}")
            self._verified.add(database)

    # --- create / register -------------------------------------------------------------------
    def create_if_missing(self, location: TableLocation, schema: Any, dataset: DatasetDef) -> bool:
        """Create an empty Delta table with the dataset's schema, properties and layout. True if created."""
        if delta_table_exists(location.path):
            self.register(location)
            return False
        from delta.tables import DeltaTable

        if dataset.partition_cols and dataset.cluster_by:
            raise DefinitionError(
                dataset.name, str(dataset.location), "partition_cols and cluster_by cannot be combined"
            )
        builder = DeltaTable.createIfNotExists(self.spark).location(location.path).addColumns(schema)
        if dataset.partition_cols:
            builder = builder.partitionedBy(*dataset.partition_cols)
        if dataset.cluster_by:
            builder = builder.clusterBy(*dataset.cluster_by)
        if dataset.comment:
            builder = builder.comment(dataset.comment)
        for key, value in dataset.table_properties.items():
            builder = builder.property(key, value)
        crash_point(f"before_create:{location.key}")
        with timed("delta_log"):
            builder.execute()
        crash_point(f"after_create:{location.key}")  # the Delta table exists, the catalog does not know it
        self.register(location)
        return True

    def register(self, location: TableLocation) -> None:
        """Publish the table in the metastore (private tables are never published)."""
        if not location.published or location.path in self._verified:
            return
        self.ensure_database(location.database)
        with timed("metastore"):
            self._register(location)
        self._verified.add(location.path)

    def _register(self, location: TableLocation) -> None:
        registered = self._registered_location(location)
        if (
            registered is not None
            and registered.rstrip("/") != f"file:{location.path}".rstrip("/")
            and registered.rstrip("/") != location.path.rstrip("/")
        ):
            self.spark.sql(f"DROP TABLE IF EXISTS {location.qualified}")
            registered = None
        if registered is None:
            self.spark.sql(
                f"CREATE TABLE IF NOT EXISTS {location.qualified} USING DELTA LOCATION '{location.path}'"
            )

    def _registered_location(self, location: TableLocation) -> str | None:
        if not self.spark.catalog.tableExists(f"{location.database}.{location.table}"):
            return None
        try:  # the catalog's own record: no Delta log read (a classic session's in-memory catalog)
            external = self.spark._jsparkSession.sharedState().externalCatalog()
            table = external.getTable(location.database.lower(), location.table.lower())
            return str(table.location().toString())
        except Exception:
            pass
        try:
            rows = self.spark.sql(f"DESCRIBE DETAIL {location.qualified}").select("location").collect()
        except Exception:
            return ""
        return rows[0]["location"] if rows else ""

    # --- writes ------------------------------------------------------------------------------
    def replace(self, location: TableLocation, df: Any, dataset: DatasetDef) -> None:
        """Replace a materialized view's contents and schema in one Delta commit."""
        df = conform_to_declared_schema(df, dataset)
        writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
        if dataset.partition_cols:
            writer = writer.partitionBy(*dataset.partition_cols)
        first = not delta_table_exists(location.path)
        crash_point(f"before_replace:{location.key}")
        writer.save(location.path)
        crash_point(f"after_replace:{location.key}")
        if first and (dataset.comment or dataset.table_properties):
            self._apply_metadata(location, dataset)
        if dataset.cluster_by:
            self._apply_clustering(location, dataset)
        self.register(location)

    def _apply_metadata(self, location: TableLocation, dataset: DatasetDef) -> None:
        target = f"delta.`{location.path}`"
        if dataset.table_properties:
            props = ", ".join(f"'{k}' = '{v}'" for k, v in dataset.table_properties.items())
            self.spark.sql(f"ALTER TABLE {target} SET TBLPROPERTIES ({props})")
        if dataset.comment:
            comment = dataset.comment.replace("'", "\\'")
            self.spark.sql(f"COMMENT ON TABLE {target} IS '{comment}'")

    def _apply_clustering(self, location: TableLocation, dataset: DatasetDef) -> None:
        """Liquid clustering keys (a path write ignores DataFrameWriter.clusterBy); a commit only when they differ."""
        target = f"delta.`{location.path}`"
        current = self.spark.sql(f"DESCRIBE DETAIL {target}").collect()[0]["clusteringColumns"] or []
        if list(current) != list(dataset.cluster_by):
            columns = ", ".join(f"`{c}`" for c in dataset.cluster_by)
            self.spark.sql(f"ALTER TABLE {target} CLUSTER BY ({columns})")

    def append(self, location: TableLocation, df: Any, txn_app_id: str, txn_version: int) -> bool:
        """Append one micro-batch; a replay of the same (app id, version) after a crash is skipped by Delta.

        Returns False when Delta skipped it (the query did not run: see harness/runtime/delta_txn.py).
        """
        crash_point(f"before_append:{location.key}")
        before = latest_version(location.path)
        (
            df.write.format("delta")
            .mode("append")
            .option("mergeSchema", "true")
            .option("txnAppId", txn_app_id)
            .option("txnVersion", txn_version)
            .save(location.path)
        )
        # committed to Delta, not yet to the stream's checkpoint: the replay must be skipped
        crash_point(f"after_append:{location.key}")
        return committed_since(location.path, before, txn_app_id, txn_version)

    def truncate(self, location: TableLocation, schema: Any) -> None:
        """Full refresh of a streaming table: empty it (one commit) with its current definition's schema."""
        if not delta_table_exists(location.path):
            return
        (
            self.spark.createDataFrame([], schema)
            .write.format("delta")
            .mode("overwrite")
            .option("overwriteSchema", "true")
            .save(location.path)
        )

    def table_properties(self, location: TableLocation) -> dict[str, str]:
        if not delta_table_exists(location.path):
            return {}
        with timed("delta_log"):
            rows = self.spark.sql(f"DESCRIBE DETAIL delta.`{location.path}`").select("properties").collect()
        return dict(rows[0]["properties"] or {}) if rows else {}

    @staticmethod
    def remove_dir(path: str | Path) -> None:
        shutil.rmtree(Path(str(path).removeprefix("file:")), ignore_errors=True)
