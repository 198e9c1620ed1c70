"""Glue between a local pipeline and `pipeline.metrics`: where staged metrics and dead letters live
under the harness state, which PostgreSQL to use, and the export after `harness run`.

Connection, in order: ``--dsn`` (any form `harness.postgres.parse_dsn` takes), the export section's
own settings when ``--connect-from-config`` is given (as a Databricks job would, password from
``password_env``), else the PostgreSQL provider chain (``HARNESS_PG_DSN``, Docker, local server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.metrics.batches import Batch
from pipeline.metrics.config import MetricsConfig
from pipeline.metrics.job import connector, export_pipeline_metrics
from pipeline.metrics.postgres_export import ExportReport, PostgresExporter
from pipeline.metrics.staging import MetricsStaging

log = logging.getLogger(__name__)


def metrics_dir(pipeline: Any) -> Path:
    """``<state>/pipelines/<name>/metrics``: staged Delta tables and the dead-letter folder."""
    return Path(pipeline.layout.pipeline_dir(pipeline.settings.name)) / "metrics"


def staging_for(pipeline: Any) -> MetricsStaging:
    return MetricsStaging(pipeline.spark, root=str(metrics_dir(pipeline) / "staging"))


def dead_letter_dir(pipeline: Any) -> Path:
    return metrics_dir(pipeline) / "dead_letters"


@contextmanager
def export_connection(
    layout: Any, config: MetricsConfig, dsn: str | None = None, from_config: bool = False
) -> Iterator[Callable[[], Any]]:
    """A zero-argument connect function for the duration of the block (see the module docstring)."""
    if dsn:
        from harness.postgres import parse_dsn

        info = parse_dsn(dsn)
        log.info("metrics export to %s (--dsn)", info)
        yield info.connect
        return
    if from_config:
        yield connector(config)
        return
    from harness.postgres import provide_postgres

    with provide_postgres(layout) as info:
        log.info("metrics export to %s (provider %s)", info, info.provider)
        yield info.connect


def freshness_tables(pipeline: Any, config: MetricsConfig) -> dict[str, Any]:
    """The tables named in ``sla.freshness_minutes`` that exist locally, as DataFrames."""
    from harness.errors import UnknownDatasetError

    tables = {}
    for name in config.sla.freshness_minutes:
        try:
            tables[name] = pipeline.table(name)
        except UnknownDatasetError:
            log.warning(
                "freshness target %r: no such table in pipeline %s (skipped)", name, pipeline.settings.name
            )
    return tables


def export_local(
    pipeline: Any,
    config: MetricsConfig,
    connect: Callable[[], Any],
    *,
    now: datetime | None = None,
    on_batch_committed: Callable[[Batch], None] | None = None,
    on_alerts: Callable[[Any], None] | None = None,
) -> tuple[dict[str, int], ExportReport]:
    """Stage and export the metrics of a `LocalPipeline` (all finished updates not exported yet),
    then evaluate the alert rules when the config has an ``alerts`` section (`evaluate_alerts_local`).

    ``on_alerts`` receives the alerting outcome (`pipeline.monitoring.alert_store.ProcessResult`, or
    None when alerting failed; not called when alerting is off). Alerting never changes the export's
    result: its failures are logged, and unsent notifications are retried by the next evaluation.
    """
    staged, report = export_pipeline_metrics(
        pipeline.spark,
        pipeline.event_log(),
        pipeline_id=pipeline.settings.pipeline_id,
        config=config,
        staging=staging_for(pipeline),
        connect=connect,
        dead_letter_dir=dead_letter_dir(pipeline),
        now=now,
        tables=freshness_tables(pipeline, config),
        on_batch_committed=on_batch_committed,
    )
    if config.monitoring is not None:
        result = evaluate_alerts_local(pipeline, config, connect, now=now, update_ids=report.updates or None)
        if on_alerts is not None:
            on_alerts(result)
    return staged, report


def evaluate_alerts_local(
    pipeline: Any,
    config: MetricsConfig,
    connect: Callable[[], Any],
    *,
    now: datetime | None = None,
    update_ids: list[str] | None = None,
) -> Any:
    """Evaluate, record and notify the alerts of ``update_ids`` (default: the newest exported update).

    Call it again after writing data the rules read that the export does not carry (``gold_kpi_daily``
    for the revenue / order-count anomalies): re-evaluating records nothing twice and notifies once.
    Returns the `ProcessResult`, or None when alerting is off or failed (logged).
    """
    from pipeline.monitoring.alert_job import alerts_after_export

    return alerts_after_export(
        connect,
        pipeline.settings.pipeline_id,
        config.monitoring,
        schema=config.export.schema,
        now=now,
        update_ids=update_ids,
    )


def redrive_local(pipeline: Any, config: MetricsConfig, connect: Callable[[], Any]) -> list[ExportReport]:
    exporter = PostgresExporter(
        connect,
        schema=config.export.schema,
        dead_letter_dir=dead_letter_dir(pipeline),
        retry=config.export.retry,
        batch_updates=config.export.batch_updates,
    )
    try:
        return exporter.redrive(pipeline.settings.pipeline_id)
    finally:
        exporter.close()


def describe(staged: dict[str, int] | None, report: ExportReport) -> str:
    """One line for the terminal."""
    written = {t: report.inserted[t] + report.updated[t] for t in report.inserted}
    parts = [
        f"watermark {report.watermark_before} -> {report.watermark_after}",
        f"{report.batches} batch(es), {len(report.updates)} update(s)",
        "rows " + ", ".join(f"{t}={n}" for t, n in written.items()),
    ]
    if staged is not None:
        parts.insert(0, f"staged {sum(staged.values())} row(s)")
    if report.dead_letters:
        parts.append(f"{len(report.dead_letters)} dead letter(s): {', '.join(report.dead_letters)}")
    return "Metrics export: " + "; ".join(parts)


__all__ = [
    "dead_letter_dir",
    "describe",
    "evaluate_alerts_local",
    "export_connection",
    "export_local",
    "freshness_tables",
    "metrics_dir",
    "redrive_local",
    "staging_for",
]
