"""Metric rows staged in Delta tables before they go to PostgreSQL.

Locally the tables are Delta paths under the pipeline's state (``<root>/<table>``); on Databricks
they are Unity Catalog tables ``<schema>.metrics_<table>`` (``export.staging_schema``, e.g.
``main.monitoring``). Staging is incremental and safe to repeat after a crash: metrics are computed
only for updates newer than the newest staged update (``pipeline_updates`` is written last), each
table keeps only rows newer than its own newest ``update_seq``, and every append carries Delta's
idempotent-write options (``txnAppId``/``txnVersion``) so a replayed append is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.metrics.config import CostSettings, SlaSettings
from pipeline.metrics.identifiers import check_qualified
from pipeline.metrics.pipeline_metrics import TABLE_COLUMNS, compute_metrics

#: Write order: pipeline_updates last, because its newest update_seq is the staging watermark.
STAGING_ORDER = ("flow_metrics", "quality_metrics", "lineage_edges", "sla_status", "pipeline_updates")


@dataclass(frozen=True)
class MetricsStaging:
    """Where the staged metric tables live: Delta paths under ``root`` or tables in ``schema``."""

    spark: Any
    root: str | None = None
    schema: str | None = None

    def __post_init__(self) -> None:
        if (self.root is None) == (self.schema is None):
            raise ValueError(
                "MetricsStaging needs exactly one of root= (Delta paths) or schema= (catalog.schema)"
            )
        if self.schema is not None:  # goes into table names in SQL text
            check_qualified("export.staging_schema", self.schema)

    def ref(self, table: str) -> str:
        return (
            f"{self.root.rstrip('/')}/{table}" if self.root is not None else f"{self.schema}.metrics_{table}"
        )

    def exists(self, table: str) -> bool:
        if self.schema is not None:
            return bool(self.spark.catalog.tableExists(self.ref(table)))
        from pathlib import Path

        return (Path(self.ref(table)) / "_delta_log").is_dir()

    def read(self, table: str) -> Any | None:
        if not self.exists(table):
            return None
        reader = self.spark.read.format("delta")
        return reader.load(self.ref(table)) if self.root is not None else self.spark.table(self.ref(table))

    def high_water(self, table: str, pipeline_id: str | None = None) -> int:
        """The newest ``update_seq`` staged in ``table`` (0 when empty or absent)."""
        df = self.read(table)
        if df is None:
            return 0
        if pipeline_id is not None:
            df = df.where(df.pipeline_id == pipeline_id)
        value = df.selectExpr("max(update_seq) AS s").first()["s"]
        return int(value or 0)

    def _append(self, table: str, df: Any, version: int, pipeline_id: str) -> None:
        writer = (
            df.write.format("delta")
            .mode("append")
            .option("txnAppId", f"pipeline-metrics-staging-{pipeline_id}-{table}")
            .option("txnVersion", int(version))
        )
        if self.root is not None:
            writer.save(self.ref(table))
        else:
            writer.saveAsTable(self.ref(table))

    def stage(
        self,
        event_log: Any,
        *,
        pipeline_id: str,
        cost: CostSettings,
        sla: SlaSettings,
        now: datetime,
        cores: int,
        tables: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """Compute and append the metrics of ``pipeline_id``'s terminal updates not staged yet (staged
        tables may be shared by several pipelines on Databricks); returns rows added per table."""
        event_log = (
            event_log.where(event_log.origin.pipeline_id == pipeline_id)
            if _has_struct_origin(event_log)
            else event_log
        )
        since = self.high_water("pipeline_updates", pipeline_id)
        frames = compute_metrics(
            event_log, cost=cost, sla=sla, now=now, cores=cores, tables=tables, since_seq=since
        )
        newest = frames["pipeline_updates"].selectExpr("max(update_seq) AS s").first()["s"]
        added = dict.fromkeys(STAGING_ORDER, 0)
        if newest is None:
            return added
        for table in STAGING_ORDER:
            own = self.high_water(table, pipeline_id) if table != "pipeline_updates" else since
            rows = (
                frames[table]
                .where(f"update_seq > {own}")
                .where(frames[table].pipeline_id == pipeline_id)
                .select(*TABLE_COLUMNS[table])
                .cache()
            )
            added[table] = rows.count()
            self._append(table, rows, int(newest), pipeline_id)
            rows.unpersist()
        return added

    def rows_since(self, pipeline_id: str, since_seq: int) -> dict[str, list[dict[str, Any]]]:
        """Staged rows of one pipeline with ``update_seq > since_seq``, JSON-ready (timestamps as ISO-8601
        strings with their offset, formatted by Spark in the session time zone)."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import TimestampNTZType, TimestampType

        out: dict[str, list[dict[str, Any]]] = {}
        for table in TABLE_COLUMNS:
            df = self.read(table)
            if df is None:
                out[table] = []
                continue
            df = df.where((F.col("pipeline_id") == pipeline_id) & (F.col("update_seq") > int(since_seq)))
            cols = []
            for f in df.schema.fields:
                if isinstance(f.dataType, TimestampType | TimestampNTZType):
                    cols.append(F.date_format(f.name, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias(f.name))
                else:
                    cols.append(F.col(f.name))
            out[table] = [r.asDict() for r in df.select(*cols).orderBy("update_seq").collect()]
        return out


def _has_struct_origin(event_log: Any) -> bool:
    from pyspark.sql.types import StructType

    return isinstance(event_log.schema["origin"].dataType, StructType)


__all__ = ["STAGING_ORDER", "MetricsStaging"]
