"""Databricks SQL spellings over local tables: JSON paths on strings and the `event_log()` TVF.

Queries copied from Databricks' monitoring pages (``details:flow_progress.metrics.num_output_rows``,
``FROM event_log('<pipeline-id>')``) run unchanged through `harness sql`, `LocalPipeline.sql` and
notebook sessions: `prepare_query` rewrites them into open-source Spark SQL first.
"""

from __future__ import annotations

from harness.query.event_log_tvf import rewrite_event_log_calls
from harness.query.json_paths import rewrite_json_paths
from harness.query.spark_errors import sql_error

__all__ = ["rewrite_event_log_calls", "rewrite_json_paths", "sql_error"]
