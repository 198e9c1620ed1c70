"""Per-micro-batch counts of an Auto Loader source, observed in the same pass as the write.

The source attaches ``DataFrame.observe(metrics_name(source), ...)`` right after parsing, where the
corrupt and rescued flags still exist even if the user's query later drops or never selects the
corresponding columns. Spark reports the values per micro-batch in
``StreamingQueryProgress.observedMetrics[metrics_name(source)]``; the runner copies them into the
flow_progress event. The expressions are plain SQL so they are unit-tested as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from harness.autoloader.json_records import CORRUPT, RESCUED

METRICS_PREFIX = "cloud_files:"

#: name -> SQL aggregate over the parsed records of one micro-batch.
METRIC_EXPRESSIONS: Mapping[str, str] = {
    "num_records": "count(1)",
    "num_corrupt_records": f"coalesce(sum(cast({CORRUPT} as int)), 0)",
    "num_rescued_records": f"coalesce(sum(cast({RESCUED} as int)), 0)",
}


def metrics_name(source_name: str) -> str:
    """The observedMetrics key of a source (unique per source within one query)."""
    return f"{METRICS_PREFIX}{source_name}"


def observe_metrics(df: DataFrame, source_name: str, drop_corrupt: bool = False) -> DataFrame:
    """Attach the metrics and drop the helper flags they read (and, for DROPMALFORMED, corrupt rows)."""
    exprs = [F.expr(sql).alias(name) for name, sql in METRIC_EXPRESSIONS.items()]
    observed = df.observe(metrics_name(source_name), *exprs)
    if drop_corrupt:
        observed = observed.filter(~F.col(CORRUPT))
    return observed.drop(CORRUPT, RESCUED)


def batch_metrics(progress: Mapping[str, Any] | Any, source_name: str) -> dict[str, int] | None:
    """This source's counts from one StreamingQueryProgress (object or its JSON dict), or None."""
    observed = (
        progress.get("observedMetrics")
        if isinstance(progress, Mapping)
        else getattr(progress, "observedMetrics", None)
    )
    if not observed:
        return None
    row = observed.get(metrics_name(source_name))
    if row is None:
        return None
    values = row.asDict() if hasattr(row, "asDict") else dict(row)
    return {name: int(values.get(name) or 0) for name in METRIC_EXPRESSIONS}
