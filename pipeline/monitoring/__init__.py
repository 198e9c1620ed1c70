"""Operations side of the pipeline: alert rules, notifications, quality suites' metrics, dashboards.

Everything here runs unchanged on Databricks (no imports from ``harness``, ``simulator`` or
``tests``); Spark, PostgreSQL and matplotlib are imported inside the functions that need them, so
importing the package costs nothing and has no side effects. Its settings are part of the config
model (`pipeline.config.model`); its errors are `pipeline.utils.errors.PipelineError` subclasses.
"""

from __future__ import annotations

__all__: list[str] = []
