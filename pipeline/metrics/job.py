"""One call that stages the metrics of finished updates and exports them: what a Databricks job task
(or the harness after a local run) runs after each pipeline update.

On Databricks::

    from pipeline.metrics.job import export_pipeline_metrics, connector
    config = load_metrics_config("/Workspace/.../prod_config.json")
    events = spark.sql(f"SELECT * FROM event_log('{pipeline_id}')")
    report = export_pipeline_metrics(
        spark, events, pipeline_id=pipeline_id, config=config,
        staging=MetricsStaging(spark, schema=config.export.staging_schema),
        connect=connector(config, secrets_get=dbutils.secrets.get),
        dead_letter_dir=config.export.dead_letter_dir,          # a /Volumes/... path
        tables={"silver_orders": spark.table("main.sales.silver_orders")},
    )
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.metrics.batches import Batch
from pipeline.metrics.config import MetricsConfig, connection_settings
from pipeline.metrics.pipeline_metrics import detect_cores, events
from pipeline.metrics.postgres_export import ExportReport, PostgresExporter
from pipeline.metrics.staging import MetricsStaging


def connector(
    config: MetricsConfig,
    environ: Mapping[str, str] | None = None,
    secrets_get: Callable[[str, str], str] | None = None,
) -> Callable[[], Any]:
    """A zero-argument connect function from the ``export`` section (password from env or secret scope)."""
    settings = connection_settings(config.export, environ, secrets_get)
    return settings.connect


def export_pipeline_metrics(
    spark: Any,
    event_log: Any,
    *,
    pipeline_id: str,
    config: MetricsConfig,
    staging: MetricsStaging,
    connect: Callable[[], Any],
    dead_letter_dir: str | os.PathLike[str],
    now: datetime | None = None,
    cores: int | None = None,
    tables: Mapping[str, Any] | None = None,
    on_batch_committed: Callable[[Batch], None] | None = None,
) -> tuple[dict[str, int], ExportReport]:
    """Stage new metrics in Delta, then export them; returns (rows staged per table, export report).

    ``cores``: config ``cost.cores``, else this argument, else task slots from ``cluster_resources``
    events, else Spark's default parallelism.
    """
    moment = now or datetime.now(UTC)
    used_cores = (
        config.cost.cores
        or cores
        or detect_cores(events(event_log))
        or int(spark.sparkContext.defaultParallelism)
    )
    staged = staging.stage(
        event_log,
        pipeline_id=pipeline_id,
        cost=config.cost,
        sla=config.sla,
        now=moment,
        cores=used_cores,
        tables=tables,
    )
    exporter = PostgresExporter(
        connect,
        schema=config.export.schema,
        dead_letter_dir=dead_letter_dir,
        retry=config.export.retry,
        batch_updates=config.export.batch_updates,
        on_batch_committed=on_batch_committed,
    )
    try:
        report = exporter.export(pipeline_id, lambda seq: staging.rows_since(pipeline_id, seq))
    finally:
        exporter.close()
    return staged, report


__all__ = ["connector", "export_pipeline_metrics"]
