"""Which Structured Streaming output mode a streaming flow runs in, decided from its analysed plan.

Databricks runs a stateful query in a streaming table the way Structured Streaming allows it
(docs/semantics.md §9 has the table of shapes, with sources):

* ``append`` whenever the plan allows it: stateless queries, ``dropDuplicates`` (with or without
  a watermark), ``dropDuplicatesWithinWatermark``, stream-static and stream-stream joins with
  watermarks, and aggregations grouped by the event-time column (or a window on it) under a
  watermark. Rows are written once, when final; state lives in the flow's checkpoint, so the next
  update goes on where this one stopped.
* ``complete`` for aggregations whose rows may still change after they are written: no watermark,
  or a watermark but grouping keys without the event time. Databricks' words: "To ensure queries
  that perform aggregations are processed incrementally and not fully recomputed with each update,
  you must use watermarks" [DB-STATEFUL]. Each micro-batch rewrites the whole table from the
  aggregation state kept in the checkpoint: the table always holds the aggregate over every input
  row since the last full refresh, the result of a full recomputation.

The check is Spark's own (``UnsupportedOperationChecker``, the rule that raises
``STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION`` when a query starts), asked before the query
starts, so there is no second opinion to drift from Spark's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import StreamingShapeError

__all__ = ["APPEND", "COMPLETE", "OutputModeChoice", "choose_output_mode"]

APPEND = "append"
COMPLETE = "complete"

_REASONS = {
    APPEND: "every output row is final when written (stateless, deduplication, joins, or an "
    "aggregation on event time under a watermark)",
    COMPLETE: "an aggregation whose rows can still change (no watermark, or grouping keys without "
    "the event time): the table is rewritten with the full result each micro-batch",
}


@dataclass(frozen=True)
class OutputModeChoice:
    """The output mode a flow runs in and why (both go into the flow's flow_progress event)."""

    mode: str
    reason: str


def _violation(df: Any, mode: str) -> str | None:
    """Spark's objection to running ``df`` in ``mode``, or None when Spark accepts it."""
    jvm = df.sparkSession._jvm
    checker = jvm.org.apache.spark.sql.catalyst.analysis.UnsupportedOperationChecker
    modes = jvm.org.apache.spark.sql.streaming.OutputMode
    plan = df._jdf.queryExecution().analyzed()
    try:
        checker.checkForStreaming(plan, getattr(modes, mode.capitalize())())
    except Exception as exc:  # py4j.protocol.Py4JJavaError: Spark's AnalysisException
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def choose_output_mode(df: Any, flow: str) -> OutputModeChoice:
    """Append when Spark allows it, else complete; a shape that allows neither is refused by name."""
    if getattr(df, "_jdf", None) is None:  # Spark Connect: no JVM handle; Spark decides at start
        return OutputModeChoice(APPEND, _REASONS[APPEND])
    append = _violation(df, APPEND)
    if append is None:
        return OutputModeChoice(APPEND, _REASONS[APPEND])
    if _violation(df, COMPLETE) is None:
        return OutputModeChoice(COMPLETE, _REASONS[COMPLETE])
    raise StreamingShapeError(flow, append)
