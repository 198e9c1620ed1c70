"""apply_changes_batch: the entry point the runner calls from foreachBatch for an AUTO CDC flow."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from harness.cdc.events import change_events
from harness.cdc.model import CdcBatchMetrics, CdcTarget
from harness.cdc.plan import resolve_cdc_plan
from harness.cdc.scd1 import apply_scd1
from harness.cdc.scd2 import apply_scd2
from harness.cdc.sql import ensure_table
from harness.cdc.state import commit_batch, committed_batch
from harness.runtime.crashpoints import crash_point
from harness.shim.records import CdcFlowDef


def apply_changes_batch(
    spark: SparkSession, batch_df: DataFrame, target: CdcTarget, spec: CdcFlowDef, batch_id: int
) -> CdcBatchMetrics:
    """Apply one micro-batch of a change feed to `target` with Databricks' AUTO CDC semantics.

    Idempotent per (flow, batch_id): a batch already committed is skipped and its recorded metrics
    returned, as Structured Streaming may replay the last batch after a crash. A batch that crashed
    half-way is simply re-applied: every write is keyed and sequence-guarded (see docs/cdc.md).

    Raises CdcDefinitionError for an invalid definition and FlowExecutionError for change records
    Databricks rejects at run time (NULL sequence values, rows outside `where`).
    """
    committed = committed_batch(target.state_path, spec.name)
    if committed is not None and batch_id <= committed[0]:
        return committed[1] if batch_id == committed[0] else CdcBatchMetrics.empty()
    plan = resolve_cdc_plan(batch_df, spec)
    ensure_table(spark, target.table_name, target.path, plan.target_schema)
    events, counts = change_events(batch_df, plan)
    if counts.rows == 0:
        metrics = CdcBatchMetrics.empty()
    elif plan.scd_type == 1:
        metrics = apply_scd1(spark, events, plan, target, counts.truncates > 0).metrics(counts.rows)
    else:
        metrics = apply_scd2(spark, events, plan, target).metrics(counts.rows)
    crash_point(f"cdc_after_apply:{spec.name}")  # merged into the target, the batch not recorded yet
    commit_batch(target.state_path, spec.name, batch_id, metrics)
    return metrics
