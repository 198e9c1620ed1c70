"""Operational metrics of a DLT pipeline, from its event log to PostgreSQL.

`pipeline_metrics` computes metric DataFrames from the event log (runs unchanged on Databricks and
locally), `staging` keeps them in Delta tables, `postgres_export` exports them incrementally and
idempotently (watermark, upserts, retries, dead letters), `migrate` owns the PostgreSQL schema.
Nothing here imports ``harness``, ``simulator`` or ``tests``; Spark and psycopg2 are imported inside
the functions that need them, so importing the package has no side effects. The configuration model
lives in `pipeline.config`; errors are `pipeline.utils.errors.PipelineError` subclasses.
"""

from __future__ import annotations

from pipeline.metrics.config import (
    ConnectionSettings,
    CostSettings,
    ExportSettings,
    MetricsConfig,
    RetryPolicy,
    SlaSettings,
    load_metrics_config,
    parse_metrics_config,
)

__all__ = [
    "ConnectionSettings",
    "CostSettings",
    "ExportSettings",
    "MetricsConfig",
    "RetryPolicy",
    "SlaSettings",
    "load_metrics_config",
    "parse_metrics_config",
]
